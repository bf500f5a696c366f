package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
