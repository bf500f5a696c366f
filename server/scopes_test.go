package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryOperationChecksItsScope runs each operation with an OWNER's credential
// that holds every scope but the one the operation needs: each must be refused.
func TestEveryOperationChecksItsScope(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		all := []string{"keys:read", "keys:write", "clients:read", "clients:write", "members:read", "members:write", "audit:read", "findings:read"}
		without := func(scope string) string {
			var keep []string
			for _, s := range all {
				if s != scope {
					keep = append(keep, s)
				}
			}
			_, key := e.createKey(tm.owner, "without "+scope, map[string]any{"scopes": keep})
			return key
		}
		ops := []struct {
			scope string
			run   func(key string) response
		}{
			{"keys:read", func(k string) response { return e.gql(k, `{ viewer { apiKeys { edges { cursor } } } }`, nil) }},
			{"keys:read", func(k string) response {
				return e.gql(k, `{ viewer { organization { apiKeys { edges { cursor } } } } }`, nil)
			}},
			{"keys:write", func(k string) response {
				return e.gql(k, createKeyMutation, map[string]any{"in": map[string]any{"name": "x"}})
			}},
			{"keys:write", func(k string) response {
				id, _ := e.createKey(tm.member, "target", nil)
				return e.gql(k, revokeKeyMutation, map[string]any{"id": id})
			}},
			{"clients:read", func(k string) response { return e.gql(k, `{ viewer { oauthClients { edges { cursor } } } }`, nil) }},
			{"clients:read", func(k string) response {
				return e.gql(k, `{ viewer { organization { oauthClients { edges { cursor } } } } }`, nil)
			}},
			{"clients:write", func(k string) response {
				return e.gql(k, createClientMutation, map[string]any{"in": map[string]any{"name": "x"}})
			}},
			{"clients:write", func(k string) response {
				c := e.createClient(tm.member, "target", nil)
				return e.gql(k, revokeClientMutation, map[string]any{"id": c.id})
			}},
			{"members:read", func(k string) response {
				return e.gql(k, `{ viewer { organization { members { edges { cursor } } } } }`, nil)
			}},
			{"members:write", func(k string) response {
				return e.gql(k, updateRoleMutation, map[string]any{"in": map[string]any{"userId": tm.member2.userID, "role": "ADMIN"}})
			}},
			{"members:write", func(k string) response {
				return e.gql(k, removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.member2.userID}})
			}},
			{"audit:read", func(k string) response {
				return e.gql(k, `{ viewer { organization { auditLog { edges { cursor } } } } }`, nil)
			}},
		}
		keys := map[string]string{}
		for _, op := range ops {
			if keys[op.scope] == "" {
				keys[op.scope] = without(op.scope)
			}
		}
		for i, op := range ops {
			t.Run(op.scope+"_"+string(rune('a'+i)), func(t *testing.T) {
				r := op.run(keys[op.scope])
				if r.code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, op.scope) {
					t.Fatalf("%s", r.Body)
				}
			})
		}
	})
}

func TestHandlerPanicsBecomeAGeneric500(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		h := e.srv.chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("secret detail ptg_should_not_leak")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret detail") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if !strings.Contains(e.logs.String(), "handler panicked") || !strings.Contains(e.logs.String(), rec.Header().Get("X-Request-Id")) {
			t.Fatalf("panic not logged with the request id: %s", e.logs.String())
		}
	})
}
