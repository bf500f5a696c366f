package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// BenchmarkViewer measures `{ viewer { role } }` through the whole in-process HTTP
// stack (middleware, routing, GraphQL), once authenticated with a ptg_ key and
// once with the principal injected directly, so the difference is the cost of
// authentication. Run: go test -run '^$' -bench Viewer -benchmem ./server/
func BenchmarkViewer(b *testing.B) {
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, storetest.Open(b, backend))
			owner := e.bootstrap("Bench", "owner@bench.test")
			p, err := e.srv.authn.Authenticate(context.Background(), "Bearer "+owner.key)
			if err != nil {
				b.Fatal(err)
			}
			injected := http.NewServeMux()
			injected.Handle("POST /graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				noStore(e.srv.graph).ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
			}))
			signedIn, err := e.svc.SignIn(context.Background(), "owner@bench.test", owner.password)
			if err != nil {
				b.Fatal(err)
			}
			withKey := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+owner.key) }
			withSession := func(r *http.Request) {
				r.AddCookie(&http.Cookie{Name: SessionCookie, Value: signedIn.Token})
				r.Header.Set("Origin", e.srv.cfg.PublicURL)
			}
			stacks := []struct {
				name    string
				h       http.Handler
				prepare func(*http.Request)
			}{
				{"authenticated", e.srv.Handler(), withKey},
				{"session", e.srv.Handler(), withSession},
				{"principal_injected", e.srv.chain(injected), withKey},
			}
			for _, s := range stacks {
				b.Run(s.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
						req.Header.Set("Content-Type", "application/json")
						s.prepare(req)
						rec := httptest.NewRecorder()
						s.h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "OWNER") {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}

// BenchmarkMCPAgainstGraphQL compares a tool call over HTTP with its GraphQL
// twin asking for the same data, through the same server over real loopback
// HTTP: whoami against viewer, and a listing of 100 keys against
// viewer.apiKeys(first: 100). Each iteration sends one request of each, in
// alternating order, so both see the same machine; the ratio is reported as
// mcp/graphql. Run:
// go test -run '^$' -bench MCPAgainstGraphQL -benchtime 2000x ./server/
func BenchmarkMCPAgainstGraphQL(b *testing.B) {
	const keyFields = `id name hint scopes owner { id email name } createdAt expiresAt lastUsedAt revokedAt status`
	cases := []struct {
		name, graphql, tool string
		args                string
	}{
		{"whoami", `{ viewer { role authMethod scopes user { id email name } organization { id slug name } } }`, "whoami", `{}`},
		{"list_100_keys", `{ viewer { apiKeys(first: 100) { edges { cursor node { ` + keyFields + ` } } pageInfo { hasNextPage endCursor } } } }`,
			"list_api_keys", `{"first":100}`},
	}
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnvConfig(b, storetest.Open(b, backend), func(c *Config) { c.MCPRate = 1 << 30 })
			owner := e.bootstrap("Bench", "owner@bench.test")
			addKeys(b, e, owner, 99)
			client := e.http.Client()
			send := func(path, body string, mcp bool) {
				req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+owner.key)
				if mcp {
					req.Header.Set("Accept", "application/json, text/event-stream")
					req.Header.Set("MCP-Protocol-Version", "2025-06-18")
				}
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) || bytes.Contains(out, []byte(`"isError":true`)) ||
					!bytes.Contains(out, []byte("owner@bench.test")) {
					b.Fatalf("%s: %d %s", path, res.StatusCode, out)
				}
			}
			for _, c := range cases {
				gqlBody, _ := json.Marshal(map[string]string{"query": c.graphql})
				mcpBody := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + c.tool + `","arguments":` + c.args + `}}`
				b.Run(c.name, func(b *testing.B) {
					var gql, tool time.Duration
					i := 0
					for b.Loop() {
						start := time.Now()
						if i%2 == 0 {
							send("/graphql", string(gqlBody), false)
							mid := time.Now()
							send("/mcp", mcpBody, true)
							gql, tool = gql+mid.Sub(start), tool+time.Since(mid)
						} else {
							send("/mcp", mcpBody, true)
							mid := time.Now()
							send("/graphql", string(gqlBody), false)
							tool, gql = tool+mid.Sub(start), gql+time.Since(mid)
						}
						i++
					}
					b.ReportMetric(float64(gql.Nanoseconds())/float64(i), "graphql-ns/op")
					b.ReportMetric(float64(tool.Nanoseconds())/float64(i), "mcp-ns/op")
					b.ReportMetric(float64(tool)/float64(gql), "mcp/graphql")
				})
			}
		})
	}
}

// addKeys gives a n more keys, written straight to the store: a fixture, not
// the path under test (and not subject to creation limits).
func addKeys(b *testing.B, e *env, a actor, n int) {
	b.Helper()
	for i := range n {
		rec := store.APIKey{
			ID: uuid.Must(uuid.NewV7()).String(), OrgID: a.orgID, UserID: a.userID, Name: fmt.Sprint("bench key ", i),
			Digest: []byte(uuid.NewString()), Hint: "ptg_XXXX…YYYY", Scopes: "keys:read keys:write", CreatedAt: time.Now().UTC(),
		}
		if err := e.st.InsertAPIKey(context.Background(), &rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIntrospection introspects a ptg_ key and an access token through the
// whole stack, the resource server authenticating as an OAuth client (cached,
// as a busy resource server is). The token's claims come with its cached
// principal, so it is not verified twice. Run:
// go test -run '^$' -bench Introspection -benchmem ./server/
func BenchmarkIntrospection(b *testing.B) {
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, storetest.Open(b, backend))
			owner := e.bootstrap("Bench", "owner@bench.test")
			rs := e.createClient(owner, "resource server", nil)
			tok := e.token(e.createClient(owner, "caller", nil), "")
			h := e.srv.Handler()
			for _, c := range []struct{ name, token string }{{"api_key", owner.key}, {"access_token", tok}} {
				b.Run(c.name, func(b *testing.B) {
					body := "token=" + c.token
					b.ReportAllocs()
					for b.Loop() {
						req := httptest.NewRequest(http.MethodPost, "/api/oauth/introspect", strings.NewReader(body))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.SetBasicAuth(rs.clientID, rs.secret)
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"active":true`) {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}

// BenchmarkUnknownKeyFlood compares requests without any credential with a flood
// of well-formed keys nobody holds (each one new, so no cache helps), from one
// address: without the throttle each costs a store lookup; once the throttle
// has engaged, none does. Run:
// go test -run '^$' -bench UnknownKeyFlood -benchmem ./server/
func BenchmarkUnknownKeyFlood(b *testing.B) {
	keys := make([]string, 50000)
	for i := range keys {
		keys[i] = wellFormedKey()
	}
	// Keys of their own engage the throttle: their refusals are cached (for a
	// minute), so sending them again would measure the cache, not the throttle.
	engage := make([]string, 2000)
	for i := range engage {
		engage[i] = wellFormedKey()
	}
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			cases := []struct {
				name  string
				limit int
				key   func(i int) string
				want  int
			}{
				{"no_credential", 0, func(int) string { return "" }, http.StatusUnauthorized},
				{"unknown_keys_throttled", 0, func(i int) string { return keys[i%len(keys)] }, http.StatusTooManyRequests},
				{"unknown_keys_unthrottled", 1 << 30, func(i int) string { return keys[i%len(keys)] }, http.StatusUnauthorized},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					e := newEnv(b, storetest.Open(b, backend), func(o *auth.Options) {
						if c.limit > 0 {
							o.FailedLookupLimit = c.limit
						}
					})
					h := e.srv.Handler()
					sendKey := func(k string) int {
						req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
						req.Header.Set("Content-Type", "application/json")
						if k != "" {
							req.Header.Set("Authorization", "Bearer "+k)
						}
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						return rec.Code
					}
					send := func(i int) int { return sendKey(c.key(i)) }
					for _, k := range engage { // engage the throttle (for a good minute), when there is one
						sendKey(k)
					}
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if code := send(i); code != c.want {
							b.Fatalf("%d, want %d", code, c.want)
						}
						i++
					}
				})
			}
		})
	}
}

// wellFormedKey makes a ptg_ key nobody holds, written from the public format
// (SPEC §3) rather than with auth's own code: 40 random base62 characters and
// the CRC-32 of them in 6 base62 digits.
func wellFormedKey() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	random := make([]byte, 40)
	for i := range random {
		n, _ := rand.Int(rand.Reader, big.NewInt(62))
		random[i] = alphabet[n.Int64()]
	}
	sum := crc32.ChecksumIEEE(random)
	check := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		check[i] = alphabet[sum%62]
		sum /= 62
	}
	return "ptg_" + string(random) + string(check)
}
