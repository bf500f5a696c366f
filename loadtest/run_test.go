package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/loadtest"
	"github.com/pentographer/pentographer/server"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// startServer runs a real server over st, its handler wrapped by wrap (nil: as
// is), and returns its URL, an owner key and a handler that bypasses wrap.
func startServer(t *testing.T, st *store.Store, wrap func(inner http.Handler, ownerKey string) http.Handler) (string, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + ts.Listener.Addr().String()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	catalog, err := auth.NewCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.NewService(st, auth.Options{
		Catalog: catalog, Logger: log,
		PasswordCost: auth.PasswordCost{MemoryKiB: 1024, Iterations: 1, Parallelism: 1},
		Tokens:       auth.TokenConfig{Issuer: publicURL, Audience: publicURL + "/graphql", TTL: time.Hour, Alg: "ES256"},
	})
	ctx := context.Background()
	if err := svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	owner, err := svc.Bootstrap(ctx, "Load", "load@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.PublicURL = publicURL
	h := server.New(cfg, log, svc, st.Ping).Handler()
	if wrap != nil {
		h = wrap(h, owner.APIKey)
	}
	ts.Config.Handler = h
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL, owner.APIKey
}

// writeHeavy exercises every operation many times in a short run.
var writeHeavy = loadtest.Mix{
	loadtest.OpKeyRead: 50, loadtest.OpTokenRead: 25, loadtest.OpTokenRequest: 13,
	loadtest.OpKeyCreate: 6, loadtest.OpKeyRevoke: 6,
}

func shortRun(url, key string) loadtest.Config {
	return loadtest.Config{
		URL: url, Key: key, Rate: 100, Duration: 2 * time.Second, Mix: writeHeavy,
		ProbeDelay: 200 * time.Millisecond, ClientEvery: time.Second, Timeout: 5 * time.Second,
	}
}

// secretShape matches any credential the run handled: a ptg_ key, a client
// secret, or a JWT.
var secretShape = regexp.MustCompile(`ptg_[0-9A-Za-z]{46}|ptgs_[0-9A-Za-z]{46}|eyJ[0-9A-Za-z_-]{10,}`)

func TestRun(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		t.Run("a_short_run_against_a_real_server_keeps_every_invariant", func(t *testing.T) {
			url, key := startServer(t, st, nil)
			cfg := shortRun(url, key)
			cfg.ServerPID = os.Getpid() // the server runs in this process
			var log bytes.Buffer
			cfg.Log = &log
			rep, err := loadtest.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Passed {
				t.Fatalf("failures %q, events %+v", rep.Failures, rep.Events)
			}
			for _, o := range rep.Operations {
				if o.Count == 0 || o.OK != o.Count {
					t.Errorf("%s: %d sent, %d ok, errors %v", o.Op, o.Count, o.OK, o.Errors)
				}
			}
			if rep.All.Count < 150 || rep.Rate.Achieved < 75 {
				t.Errorf("sent %d paced requests, %.1f/s; want about 200 at 100/s", rep.All.Count, rep.Rate.Achieved)
			}
			probes := map[string]loadtest.OpReport{}
			for _, p := range rep.Probes {
				probes[p.Op] = p
			}
			tot := rep.Totals
			if tot.KeysCreated == 0 || probes["probe_key_created"].OK != tot.KeysCreated || probes["probe_key_listed"].Count < tot.KeysCreated {
				t.Errorf("%d keys created, probes %+v", tot.KeysCreated, probes)
			}
			// Every created key and the read keys are revoked by the end, and
			// each revoked key was refused on the next request.
			if tot.KeysRevoked != tot.KeysCreated+loadtest.DefaultReadKeys {
				t.Errorf("%d keys revoked, want %d created + the read keys", tot.KeysRevoked, tot.KeysCreated)
			}
			if r := probes["probe_key_revoked"]; r.Count != tot.KeysRevoked || r.Errors["http_401:invalid_token"] != r.Count {
				t.Errorf("revoked key probes %+v", r)
			}
			if tot.ClientsCreated == 0 || tot.ClientsRevoked != tot.ClientsCreated+1 {
				t.Errorf("clients created %d, revoked %d", tot.ClientsCreated, tot.ClientsRevoked)
			}
			if r := probes["probe_client_secret_revoked"]; r.Count != tot.ClientsRevoked || r.Errors["http_401:invalid_client"] != r.Count {
				t.Errorf("revoked client probes %+v", r)
			}
			if r := probes["sweep_list"]; r.Count == 0 || r.OK != r.Count {
				t.Errorf("final listing check %+v", r)
			}
			if rep.RSS == nil || rep.RSS.PeakMB <= 0 || len(rep.RSS.Samples) < 2 {
				t.Errorf("RSS %+v", rep.RSS)
			}

			dir := t.TempDir()
			if err := rep.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			var back loadtest.Report
			b, err := os.ReadFile(filepath.Join(dir, "report.json"))
			if err != nil || json.Unmarshal(b, &back) != nil || back.All.Count != rep.All.Count {
				t.Fatalf("report.json does not read back: %v", err)
			}
			page, err := os.ReadFile(filepath.Join(dir, "report.html"))
			if err != nil || !bytes.Contains(page, []byte("PASS")) {
				t.Fatalf("report.html: %v", err)
			}
			for name, text := range map[string][]byte{"report.json": b, "report.html": page, "log": log.Bytes()} {
				if m := secretShape.Find(text); m != nil {
					t.Errorf("%s holds a credential (%.12s…)", name, m)
				}
			}
		})
	})
}

// The harness must see a server break its promises. These wrap a real server in
// a handler that breaks one promise on purpose; they test the harness, not the
// store, so they run on SQLite only.
func TestRunDetects(t *testing.T) {
	t.Run("stale_accepts_of_a_server_that_caches_answers_past_revocation", func(t *testing.T) {
		url, key := startServer(t, storetest.Open(t, "sqlite"), cachingViewer)
		rep, err := loadtest.Run(context.Background(), shortRun(url, key))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Passed || rep.Totals.StaleAccepts == 0 {
			t.Fatalf("passed %v with %d stale accepts; want a failed run", rep.Passed, rep.Totals.StaleAccepts)
		}
		if rep.Totals.Lost != 0 {
			t.Errorf("%d lost; the server lost nothing", rep.Totals.Lost)
		}
	})
	t.Run("lost_writes_of_a_server_that_forgets_keys_it_acknowledged", func(t *testing.T) {
		url, key := startServer(t, storetest.Open(t, "sqlite"), forgettingKeys)
		rep, err := loadtest.Run(context.Background(), shortRun(url, key))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Passed || rep.Totals.Lost == 0 {
			t.Fatalf("passed %v with %d lost; want a failed run", rep.Passed, rep.Totals.Lost)
		}
		if rep.Totals.StaleAccepts != 0 {
			t.Errorf("%d stale accepts; the server accepted nothing stale", rep.Totals.StaleAccepts)
		}
	})
	t.Run("a_key_that_does_not_work_stops_the_run_before_it_starts", func(t *testing.T) {
		url, _ := startServer(t, storetest.Open(t, "sqlite"), nil)
		cfg := shortRun(url, "ptg_"+strings.Repeat("A", 46))
		if _, err := loadtest.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "http_401:invalid_token") {
			t.Fatalf("error %v, want the key's 401", err)
		}
	})
}

// cachingViewer answers `{ viewer { role } }` from a per-bearer cache for 5 s,
// as a broken cache in front of the server would: revoked keys keep working.
func cachingViewer(inner http.Handler, _ string) http.Handler {
	type entry struct {
		body    []byte
		expires time.Time
	}
	var mu sync.Mutex
	cache := map[string]entry{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Path != "/graphql" || !bytes.Contains(body, []byte(`{ viewer { role } }`)) {
			inner.ServeHTTP(w, r)
			return
		}
		bearer := r.Header.Get("Authorization")
		mu.Lock()
		e, ok := cache[bearer]
		mu.Unlock()
		if ok && time.Now().Before(e.expires) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(e.body)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			mu.Lock()
			cache[bearer] = entry{body: rec.Body.Bytes(), expires: time.Now().Add(5 * time.Second)}
			mu.Unlock()
		}
		copyResponse(w, rec)
	})
}

// forgettingKeys acknowledges every key the paced key_create makes, then
// revokes it behind the caller's back, as a server losing writes would.
func forgettingKeys(inner http.Handler, ownerKey string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Path != "/graphql" || !bytes.Contains(body, []byte("createApiKey")) || !bytes.Contains(body, []byte(" key ")) {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		var created struct {
			Data struct {
				CreateAPIKey struct {
					APIKey struct{ ID string } `json:"apiKey"`
				} `json:"createApiKey"`
			} `json:"data"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &created) == nil && created.Data.CreateAPIKey.APIKey.ID != "" {
			q, _ := json.Marshal(map[string]any{
				"query":     `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`,
				"variables": map[string]any{"id": created.Data.CreateAPIKey.APIKey.ID},
			})
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(q))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+ownerKey)
			inner.ServeHTTP(httptest.NewRecorder(), req)
		}
		copyResponse(w, rec)
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
