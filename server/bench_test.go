package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pentographer/pentographer/auth"
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
			stacks := []struct {
				name string
				h    http.Handler
			}{
				{"authenticated", e.srv.Handler()},
				{"principal_injected", e.srv.chain(injected)},
			}
			for _, s := range stacks {
				b.Run(s.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Authorization", "Bearer "+owner.key)
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
