package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// testPasswordCost keeps argon2id cheap in tests; production uses the default.
var testPasswordCost = auth.PasswordCost{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}

// syncBuffer collects log output from concurrent handlers. String first
// flushes the LogWriter in front of it, if any, so that tests see every line.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   *LogWriter
	// discard drops what is written: benchmarks log as production does, to a
	// sink that costs a write, not to a buffer growing by megabytes.
	discard bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	if b.discard {
		return len(p), nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	if b.w != nil {
		_ = b.w.Flush()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeClock is the service clock, moved forward by tests.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is a running server over a real store, reached through real HTTP.
type env struct {
	t     testing.TB
	st    *store.Store
	svc   *auth.Service
	srv   *Server
	http  *httptest.Server
	logs  *syncBuffer
	clock *fakeClock
	// metrics are the server's; the test reads them in Go or scrapes them
	// with serveMetrics.
	metrics *Metrics
}

// newEnv starts a server over st; tweaks adjust the service options.
func newEnv(t testing.TB, st *store.Store, tweaks ...func(*auth.Options)) *env {
	t.Helper()
	return newEnvConfig(t, st, nil, tweaks...)
}

// newEnvConfig is newEnv with a tweak of the server's configuration too.
func newEnvConfig(t testing.TB, st *store.Store, cfgTweak func(*Config), tweaks ...func(*auth.Options)) *env {
	t.Helper()
	e := &env{t: t, st: st, logs: &syncBuffer{}, clock: &fakeClock{}, metrics: NewMetrics()}
	if _, bench := t.(*testing.B); bench {
		e.logs.discard = true
	}
	// As in production: JSON through a LogWriter that the access log shares.
	e.logs.w = NewLogWriter(e.logs)
	log := slog.New(LogHandler(slog.NewJSONHandler(e.logs.w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	catalog, err := auth.NewCatalog([]string{"findings:read"})
	if err != nil {
		t.Fatal(err)
	}
	// The public URL is the test server's own address, so issuer and audience
	// checks run exactly as in production.
	e.http = httptest.NewUnstartedServer(nil)
	publicURL := "http://" + e.http.Listener.Addr().String()
	opts := auth.Options{
		Catalog: catalog, Now: e.clock.now, Logger: log, PasswordCost: testPasswordCost, KeyRefresh: 50 * time.Millisecond,
		UsesInterval: 20 * time.Millisecond,
		Tokens:       auth.TokenConfig{Issuer: publicURL, Audience: publicURL + "/graphql", TTL: time.Hour, Alg: "ES256"},
		Observer:     e.metrics,
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	e.svc = auth.NewService(st, opts)
	// Uses of credentials are written in the background, as in production.
	uses, stopUses := context.WithCancel(context.Background())
	usesDone := make(chan struct{})
	go func() { e.svc.RecordUses(uses); close(usesDone) }()
	t.Cleanup(func() { stopUses(); <-usesDone })
	if err := e.svc.EnsureSigningKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.PublicURL = publicURL
	cfg.Metrics, cfg.AccessLog = e.metrics, e.logs.w
	e.metrics.WatchDatabase(st.Stats)
	if cfgTweak != nil {
		cfgTweak(&cfg)
	}
	e.srv = New(cfg, log, e.svc, st.Ping)
	e.http.Config.Handler = e.srv.Handler()
	e.http.Start()
	t.Cleanup(e.http.Close)
	return e
}

// watch makes the server apply the changes other replicas announce (PostgreSQL)
// and returns once it listens.
func (e *env) watch() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan struct{}, 8)
	done := make(chan struct{})
	go func() {
		e.svc.WatchChanges(ctx, func() {
			select {
			case listening <- struct{}{}:
			default:
			}
		})
		close(done)
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		e.t.Fatal("the replica does not listen for changes")
	}
}

// forEachEnv runs fn on a fresh server over each store backend.
func forEachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) { fn(t, newEnv(t, st)) })
}

// actor is an enrolled person and their API key.
type actor struct {
	name     string
	password string // the first password (empty for a person who existed already)
	key      string
	userID   string
	orgID    string
	slug     string
}

func (e *env) bootstrap(org, email string) actor {
	e.t.Helper()
	en, err := e.svc.Bootstrap(context.Background(), org, email)
	if err != nil {
		e.t.Fatalf("bootstrap %s: %v", email, err)
	}
	return actorOf(en)
}

func (e *env) addMember(slug, email string, role auth.Role) actor {
	e.t.Helper()
	en, err := e.svc.AddMember(context.Background(), slug, email, role)
	if err != nil {
		e.t.Fatalf("add %s: %v", email, err)
	}
	return actorOf(en)
}

func actorOf(en auth.Enrollment) actor {
	return actor{name: en.User.Email, password: en.Password, key: en.APIKey, userID: en.User.ID, orgID: en.Organization.ID, slug: en.Organization.Slug}
}

// team is the cast of the authorization tests: one organization with an owner,
// an admin and two members, and a second organization with its own owner.
type team struct {
	owner, admin, member, member2, outsider actor
}

func (e *env) team() team {
	owner := e.bootstrap("Acme", "owner@acme.test")
	return team{
		owner:    owner,
		admin:    e.addMember(owner.slug, "admin@acme.test", auth.RoleAdmin),
		member:   e.addMember(owner.slug, "member@acme.test", auth.RoleMember),
		member2:  e.addMember(owner.slug, "member2@acme.test", auth.RoleMember),
		outsider: e.bootstrap("Globex", "owner@globex.test"),
	}
}

// gqlError is one GraphQL error of a response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// response is an HTTP answer of the GraphQL endpoint.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
}

// code returns the extensions.code of the first error ("" when none).
func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do sends a request and decodes a JSON answer.
func (e *env) do(req *http.Request) response {
	e.t.Helper()
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := response{Status: res.StatusCode, Header: res.Header, Body: body}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(body, &r)
	}
	return r
}

// gql POSTs a GraphQL request with key as bearer ("" for none).
func (e *env) gql(key, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.do(req)
}

// ok fails the test unless r is a 200 without errors.
func (r response) ok(t testing.TB) response {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("want success, got %d: %s", r.Status, r.Body)
	}
	return r
}

// get walks the data by keys, e.g. r.get("viewer", "role").
func (r response) get(path ...string) any {
	var v any = r.Data
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func (r response) str(path ...string) string {
	s, _ := r.get(path...).(string)
	return s
}

// createKey makes a key for a through the API and returns its id and secret.
func (e *env) createKey(a actor, name string, extra map[string]any) (id, secret string) {
	e.t.Helper()
	input := map[string]any{"name": name}
	for k, v := range extra {
		input[k] = v
	}
	r := e.gql(a.key, `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret apiKey { id } } }`,
		map[string]any{"in": input}).ok(e.t)
	return r.str("createApiKey", "apiKey", "id"), r.str("createApiKey", "secret")
}

// assertUnauthorized checks a 401 answer of RFC 6750 §3 with invalid_token.
func assertInvalidToken(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
	}
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer realm="pentographer", error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", h)
	}
	var body map[string]string
	if err := json.Unmarshal(r.Body, &body); err != nil || body["error"] != "invalid_token" || body["error_description"] == "" {
		t.Fatalf("body %s", r.Body)
	}
}

// untilStopped runs fn from n goroutines, again and again, until stop is
// closed; Wait on the result for them to finish.
func untilStopped(n int, stop <-chan struct{}, fn func()) *sync.WaitGroup {
	wg := &sync.WaitGroup{}
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				fn()
			}
		})
	}
	return wg
}
