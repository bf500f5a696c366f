package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// families are one scrape of /metrics, parsed.
type families map[string]*dto.MetricFamily

// serveMetrics serves e's metrics on a listener of their own, as serve does,
// and returns a function that scrapes and parses them over HTTP.
func (e *env) serveMetrics(t *testing.T) func() families {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMetrics(ctx, ln, e.metrics, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics server: %v", err)
		}
	})
	return func() families { return scrape(t, "http://"+ln.Addr().String()+"/metrics") }
}

// scrape GETs url and parses the Prometheus text format.
func scrape(t testing.TB, url string) families {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return fams
}

// value sums the samples of the family name whose labels include want: a
// counter's or gauge's value, a histogram's count.
func (f families) value(name string, want map[string]string) float64 {
	fam := f[name]
	if fam == nil {
		return 0
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// labelValues lists every label value of every sample.
func (f families) labelValues() []string {
	var out []string
	for _, fam := range f {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnvConfig(t, st, func(c *Config) {
			c.ClientFailureLimit = 2
			c.SignInAccountAddressLimit = 1
			c.MCPRate = 1
		})
		scrapeNow := e.serveMetrics(t)
		owner := e.bootstrap("Acme", "owner@acme.test")
		keyID, keySecret := e.createKey(owner, "metered", nil)
		client := e.createClient(owner, "metered client", nil)
		viewer := `{ viewer { role } }`

		before := scrapeNow()
		e.gql(owner.key, viewer, nil).ok(t)
		e.gql(owner.key, viewer, nil).ok(t)
		assertInvalidToken(t, e.gql(validLookingKey(), viewer, nil))
		assertInvalidToken(t, e.gql("ptg_bad", viewer, nil))
		tok := e.token(client, "")
		e.gql(tok, viewer, nil).ok(t)
		wrongSecret := url.Values{"grant_type": {"client_credentials"}}
		for range 2 {
			if r := e.form("/api/oauth/token", wrongSecret, client.clientID, client.secret+"x"); r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong secret: %d %s", r.Status, r.Body)
			}
		}
		if r := e.form("/api/oauth/token", wrongSecret, client.clientID, client.secret+"x"); r.Status != http.StatusTooManyRequests {
			t.Fatalf("past the client failure limit: %d %s", r.Status, r.Body)
		}
		b := e.browser()
		for _, want := range []int{http.StatusUnauthorized, http.StatusTooManyRequests} {
			if r := b.post("/login", map[string]string{"email": "owner@acme.test", "password": "wrong"}); r.Status != want {
				t.Fatalf("sign-in: %d, want %d: %s", r.Status, want, r.Body)
			}
		}
		for _, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
			if r := e.mcpPost(keySecret, whoamiCall, nil); r.Status != want {
				t.Fatalf("mcp: %d, want %d: %s", r.Status, want, r.Body)
			}
		}
		junk, _ := http.NewRequest(http.MethodGet, e.http.URL+"/"+keySecret+"/"+tok, nil)
		if r := e.do(junk); r.Status != http.StatusNotFound {
			t.Fatalf("junk path: %d", r.Status)
		}
		health, _ := http.NewRequest(http.MethodGet, e.http.URL+"/healthz", nil)
		e.do(health)
		after := scrapeNow()

		for _, c := range []struct {
			name   string
			labels map[string]string
			delta  float64
		}{
			{"pentographer_http_requests_total", map[string]string{"route": "POST /graphql", "method": "POST", "status": "200"}, 3},
			{"pentographer_http_requests_total", map[string]string{"route": "POST /graphql", "status": "401"}, 2},
			{"pentographer_http_requests_total", map[string]string{"route": "POST /api/oauth/token", "status": "200"}, 1},
			{"pentographer_http_requests_total", map[string]string{"route": "POST /api/oauth/token", "status": "401"}, 2},
			{"pentographer_http_requests_total", map[string]string{"route": "POST /api/oauth/token", "status": "429"}, 1},
			{"pentographer_http_requests_total", map[string]string{"route": "POST /login", "status": "401"}, 1},
			{"pentographer_http_requests_total", map[string]string{"route": "POST /login", "status": "429"}, 1},
			{"pentographer_http_requests_total", map[string]string{"route": "/mcp", "method": "POST", "status": "429"}, 1},
			{"pentographer_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1},
			{"pentographer_http_requests_total", map[string]string{"route": "GET /healthz", "status": "200"}, 1},
			{"pentographer_http_request_duration_seconds", map[string]string{"route": "POST /graphql", "method": "POST"}, 5},
			// Two good keys by GraphQL and the MCP request that passed, then
			// the one refused by the MCP limiter (authenticated first).
			{"pentographer_authentications_total", map[string]string{"kind": "API_KEY", "outcome": "success"}, 4},
			{"pentographer_authentications_total", map[string]string{"kind": "API_KEY", "outcome": "rejected"}, 1},
			{"pentographer_authentications_total", map[string]string{"kind": "API_KEY", "outcome": "malformed"}, 1},
			{"pentographer_authentications_total", map[string]string{"kind": "ACCESS_TOKEN", "outcome": "success"}, 1},
			{"pentographer_authentications_total", map[string]string{"kind": "CLIENT_SECRET", "outcome": "success"}, 1},
			{"pentographer_authentications_total", map[string]string{"kind": "CLIENT_SECRET", "outcome": "rejected"}, 2},
			{"pentographer_tokens_issued_total", nil, 1},
			{"pentographer_rate_limited_total", map[string]string{"limiter": "client_authentication"}, 1},
			{"pentographer_rate_limited_total", map[string]string{"limiter": "sign_in"}, 1},
			{"pentographer_rate_limited_total", map[string]string{"limiter": "mcp"}, 1},
		} {
			if got := after.value(c.name, c.labels) - before.value(c.name, c.labels); got != c.delta {
				t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.delta)
			}
		}
		// The same keys again hit the cache.
		if hits := after.value("pentographer_auth_cache_lookups_total", map[string]string{"result": "hit"}) -
			before.value("pentographer_auth_cache_lookups_total", map[string]string{"result": "hit"}); hits < 1 {
			t.Errorf("cache hits moved by %v", hits)
		}
		if after.value("pentographer_auth_cache_lookups_total", map[string]string{"result": "miss"}) < 1 {
			t.Error("no cache miss counted")
		}
		// The pool and the build.
		if after.value("go_sql_max_open_connections", map[string]string{"db_name": "pentographer"}) < 1 ||
			after["go_sql_open_connections"] == nil || after["go_sql_wait_count_total"] == nil {
			t.Error("no database pool metrics")
		}
		if after.value("pentographer_build_info", nil) != 1 || after["go_build_info"] == nil || after["go_goroutines"] == nil {
			t.Error("no build or runtime information")
		}

		// No label holds a credential, a secret or a record id, nor the junk
		// path that carried them.
		forbidden := []string{"ptg_", "ptgs_", "ptgc_", "eyJ", owner.key, keySecret, keyID, client.id, client.clientID,
			client.secret, tok, owner.userID, owner.orgID, owner.slug, "owner@acme.test"}
		for _, v := range after.labelValues() {
			for _, f := range forbidden {
				if strings.Contains(v, f) {
					t.Errorf("label value %q contains %q", v, f)
				}
			}
		}
	})
}

func TestTheMetricsListenerServesOnlyMetrics(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	scrapeNow := e.serveMetrics(t)
	scrapeNow()
	// The API does not serve metrics, and the metrics listener nothing else.
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/metrics", nil)
	if r := e.do(req); r.Status != http.StatusNotFound {
		t.Fatalf("the API answered /metrics with %d", r.Status)
	}
	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /metrics: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphql", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /graphql on the metrics listener: %d", rec.Code)
	}
}

func TestANilMetricsCountsNothing(t *testing.T) {
	var m *Metrics
	m.Authentication("API_KEY", "success")
	m.CacheLookup(true)
	m.TokenIssued()
	m.WatchDatabase(nil)
	m.request("POST /graphql", "POST", 200, 0)
	m.limited(limiterMCP)
}
