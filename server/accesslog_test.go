package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store/storetest"
)

// logLines parses a JSON log.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line is not JSON: %v: %q", err, sc.Text())
		}
		out = append(out, line)
	}
	return out
}

// accessLine returns the access log line of the request with this id.
func accessLine(t *testing.T, log, requestID string) map[string]any {
	t.Helper()
	for _, l := range logLines(t, log) {
		if l["msg"] == "http request" && l["request_id"] == requestID {
			return l
		}
	}
	t.Fatalf("no access log line for request %s in:\n%s", requestID, log)
	return nil
}

// TestTheLeanAccessLogLineIsTheSlogLine sends the same requests, with awkward
// paths and methods, through the access log written by slog's JSON handler
// behind RedactingHandler and through a LogWriter: the lines are the same
// bytes but for time and duration, and neither holds a secret.
func TestTheLeanAccessLogLineIsTheSlogLine(t *testing.T) {
	secret := validLookingKey()
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
	requests := []struct{ method, target string }{
		{http.MethodPost, "/graphql"},
		{http.MethodGet, "/" + secret},
		{http.MethodGet, "/a/" + url.PathEscape(jwt) + "/b"},
		{http.MethodGet, "/quote%22back%5Cslash%0Anewline%09tab%01ctl%7f"},
		{http.MethodGet, "/bad%ff%feutf8/%e2%80%a8sep/%C3%A9t%C3%A9/%F0%9F%94%91"},
		{"PTGS_" + secret[4:20], "/odd-method"},
		{"ptgs_" + secret[4:20], "/secret-shaped-method"},
	}
	run := func(lean bool) string {
		var out syncBuffer
		cfg := DefaultConfig()
		var h slog.Handler = slog.NewJSONHandler(&out, nil)
		if lean {
			cfg.AccessLog = NewLogWriter(&out)
			h = slog.NewJSONHandler(cfg.AccessLog, nil)
		}
		s := &Server{cfg: cfg, log: slog.New(LogHandler(h))}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
			ri := requestInfoFrom(r.Context())
			ri.credentialID, ri.method = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", auth.MethodAPIKey
			_, _ = io.WriteString(w, "hello")
		})
		mux.HandleFunc("/", http.NotFound)
		handler := s.chain(mux)
		for i, c := range requests {
			req := httptest.NewRequest(c.method, c.target, nil)
			req.Header.Set("X-Request-Id", "req-"+string(rune('a'+i)))
			handler.ServeHTTP(httptest.NewRecorder(), req)
		}
		if cfg.AccessLog != nil {
			if out.String() != "" {
				t.Fatal("access log lines were written at once, not buffered")
			}
			if err := cfg.AccessLog.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return out.String()
	}
	slogLog, leanLog := run(false), run(true)
	for _, l := range []string{slogLog, leanLog} {
		for _, s := range []string{secret[4:30], secret[20:], "eyJhbGciOiJFUzI1NiJ9", "c2lnbmF0dXJlc2lnbmF0dXJl"} {
			if strings.Contains(l, s) {
				t.Fatalf("the log holds credential-shaped text %q:\n%s", s, l)
			}
		}
	}
	normalize := regexp.MustCompile(`"time":"[^"]+"|"duration":\d+`)
	slogLines := strings.Split(normalize.ReplaceAllString(slogLog, "T"), "\n")
	leanLines := strings.Split(normalize.ReplaceAllString(leanLog, "T"), "\n")
	if len(slogLines) != len(requests)+1 || len(leanLines) != len(slogLines) {
		t.Fatalf("%d and %d lines:\n%s\n%s", len(slogLines), len(leanLines), slogLog, leanLog)
	}
	for i := range slogLines {
		if slogLines[i] != leanLines[i] {
			t.Errorf("line %d differs:\nslog: %s\nlean: %s", i, slogLines[i], leanLines[i])
		}
	}
	lines := logLines(t, leanLog)
	first := lines[0]
	if first["route"] != "POST /graphql" || first["status"] != float64(200) || first["bytes"] != float64(5) ||
		first["auth_method"] != "API_KEY" || first["credential_id"] == nil || first["level"] != "INFO" {
		t.Fatalf("first line %v", first)
	}
	if lines[1]["path"] != "/ptg_[redacted]" || lines[1]["route"] != "unmatched" || lines[1]["status"] != float64(404) {
		t.Fatalf("second line %v", lines[1])
	}
	if lines[4]["path"] != "/bad\ufffd\ufffdutf8/\u2028sep/été/🔑" {
		t.Fatalf("fifth line %q", lines[4]["path"])
	}
	if _, err := time.Parse(time.RFC3339Nano, first["time"].(string)); err != nil {
		t.Fatalf("time %v: %v", first["time"], err)
	}
}

// countingWriter records each Write to the output.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *countingWriter) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

func TestTheLogWriter(t *testing.T) {
	entry := func(path string) *accessEntry {
		return &accessEntry{time: time.Now(), requestID: "r", method: "GET", route: routeUnmatched, path: path, status: 404}
	}
	t.Run("access_lines_wait_and_the_next_other_line_writes_them_first_in_one_write", func(t *testing.T) {
		out := &countingWriter{}
		w := NewLogWriter(out)
		defer w.Close()
		w.access(entry("/one"))
		w.access(entry("/two"))
		if len(out.all()) != 0 {
			t.Fatalf("written at once: %q", out.all())
		}
		_, _ = w.Write([]byte("{\"msg\":\"a warning\"}\n"))
		writes := out.all()
		if len(writes) != 1 || strings.Count(writes[0], "\n") != 3 ||
			strings.Index(writes[0], "/one") > strings.Index(writes[0], "/two") ||
			strings.Index(writes[0], "/two") > strings.Index(writes[0], "a warning") {
			t.Fatalf("writes %q", writes)
		}
		_, _ = w.Write([]byte("{\"msg\":\"another\"}\n"))
		if writes := out.all(); len(writes) != 2 || writes[1] != "{\"msg\":\"another\"}\n" {
			t.Fatalf("writes %q", writes)
		}
	})
	t.Run("a_full_buffer_is_written_at_once", func(t *testing.T) {
		out := &countingWriter{}
		w := NewLogWriter(out)
		defer w.Close()
		long := "/" + strings.Repeat("x", 1000)
		for range logFlushSize / 1000 {
			w.access(entry(long))
		}
		if writes := out.all(); len(writes) != 1 || len(writes[0]) < logFlushSize {
			t.Fatalf("%d writes", len(writes))
		}
	})
	t.Run("the_timer_writes_what_waits", func(t *testing.T) {
		out := &countingWriter{}
		w := NewLogWriter(out)
		defer w.Close()
		w.access(entry("/late"))
		waitFor(t, "the timer to write the line", func() bool { return len(out.all()) == 1 })
		if !strings.Contains(out.all()[0], "/late") {
			t.Fatalf("%q", out.all())
		}
	})
	t.Run("close_writes_what_waits_and_later_lines_go_out_at_once", func(t *testing.T) {
		out := &countingWriter{}
		w := NewLogWriter(out)
		w.access(entry("/before"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w.access(entry("/after"))
		if writes := out.all(); len(writes) != 2 || !strings.Contains(writes[0], "/before") || !strings.Contains(writes[1], "/after") {
			t.Fatalf("%q", writes)
		}
	})
}

func TestRequestIDsOnEveryLine(t *testing.T) {
	var out syncBuffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&out, nil)))
	ctx := auth.WithRequestMeta(context.Background(), auth.RequestMeta{RequestID: "req-1"})
	log.InfoContext(ctx, "from the context")
	log.InfoContext(ctx, "given explicitly", "request_id", "req-1")
	log.With("request_id", "req-1").InfoContext(ctx, "given to the logger")
	log.WithGroup("g").InfoContext(ctx, "in a group", "k", "v")
	log.Info("without a request")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%q", lines)
	}
	for i, want := range []int{1, 1, 1, 1, 0} {
		if got := strings.Count(lines[i], `"request_id":"req-1"`); got != want {
			t.Errorf("line %d has the request id %d times: %s", i, got, lines[i])
		}
	}
}

// TestAClientThatGoesAwayIsNotAServerError sends requests whose client has
// already gone (their context is cancelled, as net/http cancels it when the
// connection closes) to endpoints that then fail on the store: nothing is
// logged as an error, nothing is answered 500, and the access log says 499.
func TestAClientThatGoesAwayIsNotAServerError(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		client := e.createClient(owner, "fresh", nil)
		_, key := e.createKey(owner, "fresh", nil)
		form := url.Values{"grant_type": {"client_credentials"}}.Encode()
		// All but one fail on the store, which the client's end cancels.
		cases := []struct {
			name, method, path, contentType, body string
			header                                map[string]string
			quiet                                 bool
		}{
			{"token", http.MethodPost, "/api/oauth/token", "application/x-www-form-urlencoded", form,
				map[string]string{"Authorization": basicAuth(client.clientID, client.secret)}, false},
			{"graphql", http.MethodPost, "/graphql", "application/json", `{"query":"{ viewer { role } }"}`,
				map[string]string{"Authorization": "Bearer " + key}, false},
			// The owner's key is in the cache, so the request passes
			// authentication; the GraphQL engine then stops before the
			// resolver, with nothing to log.
			{"graphql_resolver", http.MethodPost, "/graphql", "application/json", `{"query":"{ viewer { apiKeys(first: 1) { edges { node { id } } } } }"}`,
				map[string]string{"Authorization": "Bearer " + owner.key}, true},
			{"sign_in", http.MethodPost, "/login", "application/json", `{"email":"owner@acme.test","password":"x"}`,
				map[string]string{"Origin": e.srv.cfg.PublicURL}, false},
			{"readiness", http.MethodGet, "/readyz", "", "", nil, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				req := httptest.NewRequestWithContext(ctx, c.method, c.path, strings.NewReader(c.body))
				if c.contentType != "" {
					req.Header.Set("Content-Type", c.contentType)
				}
				for k, v := range c.header {
					req.Header.Set(k, v)
				}
				id := "gone-" + c.name
				req.Header.Set("X-Request-Id", id)
				rec := httptest.NewRecorder()
				e.srv.Handler().ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("answered %d: %s", rec.Code, rec.Body)
				}
				logs := e.logs.String()
				if line := accessLine(t, logs, id); line["status"] != float64(statusClientClosedRequest) {
					t.Fatalf("access log %v", line)
				}
				gone := false
				for _, l := range logLines(t, logs) {
					if l["request_id"] != id {
						continue
					}
					if l["level"] != "INFO" && l["level"] != "DEBUG" {
						t.Fatalf("logged at %v: %v", l["level"], l)
					}
					gone = gone || l["msg"] == "client disconnected" && l["level"] == "DEBUG"
				}
				if !gone && !c.quiet {
					t.Fatalf("no client disconnect logged with the request id:\n%s", logs)
				}
			})
		}
		for _, l := range logLines(t, e.logs.String()) {
			if l["level"] == "ERROR" {
				t.Fatalf("an error was logged: %v", l)
			}
		}
	})
}

// TestAClientThatHangsUpMidBodyIsLoggedAs499 sends half a token request over a
// real connection and hangs up.
func TestAClientThatHangsUpMidBodyIsLoggedAs499(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	conn, err := net.Dial("tcp", e.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.WriteString(conn, "POST /api/oauth/token HTTP/1.1\r\nHost: x\r\nX-Request-Id: hung-up\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ngrant_type=client_cre")
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	var line map[string]any
	waitFor(t, "the access log line", func() bool {
		for _, l := range logLines(t, e.logs.String()) {
			if l["msg"] == "http request" && l["request_id"] == "hung-up" {
				line = l
				return true
			}
		}
		return false
	})
	if line["status"] != float64(statusClientClosedRequest) || line["route"] != "POST /api/oauth/token" {
		t.Fatalf("access log %v", line)
	}
	for _, l := range logLines(t, e.logs.String()) {
		if (l["level"] == "ERROR" || l["level"] == "WARN") && l["request_id"] == "hung-up" {
			t.Fatalf("logged %v", l)
		}
	}
}
