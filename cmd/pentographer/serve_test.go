package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

var apiKeyRE = regexp.MustCompile(`ptg_[0-9A-Za-z]{46}`)

// served is one run of "pentographer serve" in the background.
type served struct {
	t           *testing.T
	out, errOut *lockedBuffer
	cancel      context.CancelFunc
	done        chan int
}

func startServe(t *testing.T, env map[string]string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{t: t, out: &lockedBuffer{}, errOut: &lockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"serve"}, args...), s.out, s.errOut, func(k string) string { return env[k] })
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// logLine waits for the JSON log line with this message and returns it.
func (s *served) logLine(msg string) map[string]any {
	s.t.Helper()
	return waitFor(s.t, func() map[string]any {
		sc := bufio.NewScanner(strings.NewReader(s.errOut.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
				return line
			}
		}
		return nil
	}, "log line "+msg, s.errOut)
}

// stop ends the server and returns its exit code.
func (s *served) stop() int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(30 * time.Second):
		s.t.Fatal("serve did not stop")
		return -1
	}
}

// waitFor polls f until it returns a non-empty value.
func waitFor[T any](t *testing.T, f func() T, what string, logs *lockedBuffer) T {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if v := f(); !reflect.ValueOf(&v).Elem().IsZero() {
			return v
		}
	}
	t.Fatalf("timed out waiting for %s; logs: %s", what, logs.String())
	var zero T
	return zero
}

func graphqlViewer(t *testing.T, base, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}

// TestFirstStart runs the server twice on one store: the first start prints the
// owner's credentials once it listens, with a public URL that follows the listen
// port; the second prints nothing.
func TestFirstStart(t *testing.T) {
	env := map[string]string{
		"PTG_DATABASE_URL": "sqlite:" + t.TempDir() + "/first.db",
		"PTG_LISTEN":       "127.0.0.1:0",
		"PTG_LOG_FORMAT":   "json",
	}
	s := startServe(t, env)
	listening := s.logLine("listening")
	addr := listening["addr"].(string)
	_, port, _ := net.SplitHostPort(addr)
	public := "http://localhost:" + port
	if listening["public_url"] != public {
		t.Fatalf("logged public URL %v, want %s", listening["public_url"], public)
	}
	if derived := s.logLine("no public URL configured: using one built from the listen address; set PTG_PUBLIC_URL (or --public-url) to the address your users reach"); derived["public_url"] != public {
		t.Fatalf("derived public URL logged as %v", derived["public_url"])
	}
	key := waitFor(t, func() string { return apiKeyRE.FindString(s.out.String()) }, "the first key", s.errOut)
	out := s.out.String()
	if !strings.Contains(out, "password:") || !strings.Contains(out, "curl -s "+public+"/graphql -H 'Authorization: Bearer "+key+"'") ||
		!strings.Contains(out, "pentographer keys create --org my-organization --email owner@example.com") {
		t.Fatalf("first start printed %q", out)
	}
	// The printed key works at once, through the address the "Try it" line names.
	if code := graphqlViewer(t, public, key); code != http.StatusOK {
		t.Fatalf("the printed key got %d", code)
	}
	// And the printed password signs in on the page it names.
	if !strings.Contains(out, "Sign in at "+public+"/login") {
		t.Fatalf("no sign-in line in %q", out)
	}
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out)[1]
	body, _ := json.Marshal(map[string]string{"email": "owner@example.com", "password": password})
	req, _ := http.NewRequest(http.MethodPost, public+"/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", public)
	signIn, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	signIn.Body.Close()
	if signIn.StatusCode != http.StatusOK {
		t.Fatalf("signing in with the printed password: %d", signIn.StatusCode)
	}
	res, err := http.Get(public + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Issuer string }
	err = json.NewDecoder(res.Body).Decode(&meta)
	res.Body.Close()
	if err != nil || meta.Issuer != public {
		t.Fatalf("issuer %q (%v), want %s", meta.Issuer, err, public)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.errOut)
	}
	if strings.Contains(s.errOut.String(), "ptg_") || strings.Contains(s.errOut.String(), "password") {
		t.Fatal("a secret went to the logs")
	}

	s = startServe(t, env)
	s.logLine("listening")
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.errOut)
	}
	// run has returned, so the first-start step has finished: nothing more comes.
	if out := s.out.String(); out != "" {
		t.Fatalf("second start printed %q", out)
	}
}

func TestAConfiguredPublicURLIsUsedAndLogged(t *testing.T) {
	env := map[string]string{
		"PTG_DATABASE_URL": "sqlite:" + t.TempDir() + "/p.db",
		"PTG_LISTEN":       "127.0.0.1:0",
		"PTG_LOG_FORMAT":   "json",
	}
	s := startServe(t, env, "--public-url", "https://auth.example.test/")
	if got := s.logLine("listening")["public_url"]; got != "https://auth.example.test" {
		t.Fatalf("logged public URL %v", got)
	}
	waitFor(t, func() string { return apiKeyRE.FindString(s.out.String()) }, "the first key", s.errOut)
	if !strings.Contains(s.out.String(), "curl -s https://auth.example.test/graphql ") {
		t.Fatalf("try-it line: %s", s.out)
	}
	if strings.Contains(s.errOut.String(), "no public URL configured") {
		t.Fatal("logged a derived public URL although one was configured")
	}
}

func TestPublicURLFollowsTheListenAddress(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":             "http://localhost:8080",
		"0.0.0.0:9000":      "http://localhost:9000",
		"[::]:9000":         "http://localhost:9000",
		"127.0.0.1:18181":   "http://localhost:18181",
		"[::1]:18181":       "http://localhost:18181",
		"localhost:7000":    "http://localhost:7000",
		"10.1.2.3:8443":     "http://10.1.2.3:8443",
		"[fd00::1]:8080":    "http://[fd00::1]:8080",
		"auth.internal:443": "http://auth.internal:443",
	} {
		if got := (Config{Listen: addr}).PublicBase(); got != want {
			t.Errorf("listen %s: public URL %s, want %s", addr, got, want)
		}
	}
	if got := (Config{Listen: ":1", PublicURL: "https://x.test/"}).PublicBase(); got != "https://x.test" {
		t.Errorf("configured public URL became %s", got)
	}
}

// TestABusyPortPrintsNoSecretAndCreatesNothing is the failed first start: the
// port is taken, so serve fails before the store is touched, and the next start
// can still hand out the first owner's secrets.
func TestABusyPortPrintsNoSecretAndCreatesNothing(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			dbURL := storetest.URL(t, backend)
			env := map[string]string{"PTG_DATABASE_URL": dbURL, "PTG_LISTEN": busy.Addr().String(), "PTG_LOG_FORMAT": "json"}
			code, out, errOut := runCmd(t, env, "serve")
			if code == 0 || out != "" || !strings.Contains(errOut, "already in use") || strings.Contains(errOut, "ptg_") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatalf("the database file was created: %v", err)
				}
			}
			st, err := store.Open(context.Background(), dbURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, err := st.CountOrganizations(context.Background()); err != nil || n != 0 {
				t.Fatalf("%d organizations (%v) after a failed start", n, err)
			}
		})
	}
}
