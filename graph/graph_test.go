package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/pentographer/pentographer/auth"
)

// TestEveryMutationHasAnAuthorizationRule fails when a mutation is added to the
// schema without @hasRole.
func TestEveryMutationHasAnAuthorizationRule(t *testing.T) {
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gqlErr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gqlErr != nil {
		t.Fatal(gqlErr)
	}
	if schema.Mutation == nil || len(schema.Mutation.Fields) == 0 {
		t.Fatal("no mutations found")
	}
	for _, f := range schema.Mutation.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		d := f.Directives.ForName("hasRole")
		if d == nil {
			t.Errorf("mutation %s has no @hasRole", f.Name)
			continue
		}
		if f.Type.NonNull {
			t.Errorf("mutation %s is role-gated but non-nullable", f.Name)
		}
	}
	// Role-gated fields anywhere must be nullable so a FORBIDDEN leaves the rest.
	for _, def := range schema.Types {
		for _, f := range def.Fields {
			if f.Directives.ForName("hasRole") != nil && f.Type.NonNull {
				t.Errorf("%s.%s is role-gated but non-nullable", def.Name, f.Name)
			}
		}
	}
}

// withPrincipal serves h as p, skipping authentication.
func withPrincipal(h http.Handler, p *auth.Principal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func TestShapeLimits(t *testing.T) {
	limits := Limits{MaxDepth: 3, MaxAliases: 2, MaxFields: 8, MaxRepeats: 2, MaxMutations: 2, MaxComplexity: 1000, MaxTokens: 200}
	svc := auth.NewService(nil, auth.Options{})
	p := &auth.Principal{UserID: "u", OrgID: "o", Role: auth.RoleMember, Method: auth.MethodAPIKey}
	c := client.New(withPrincipal(NewHandler(svc, nil, limits), p))

	cases := []struct {
		name, query, wantErr string
	}{
		{"within_limits", `{ viewer { role authMethod } }`, ""},
		{"two_aliases", `{ a: viewer { role } b: viewer { role } }`, ""},
		{"too_many_aliases", `{ a: viewer { role } b: viewer { role } c: viewer { role } }`, "aliases"},
		{"too_deep", `{ viewer { organization { apiKeys { edges { cursor } } } } }`, "nested too deeply"},
		{"too_deep_through_a_fragment", `{ viewer { ...V } } fragment V on Viewer { organization { apiKeys { pageInfo { hasNextPage } } } }`, "nested too deeply"},
		{"too_many_fields", `{ viewer { role authMethod scopes } x: viewer { role authMethod scopes user { id } } }`, "too many fields"},
		{"too_many_tokens", `{ viewer { ` + strings.Repeat("role ", 300) + `} }`, "token limit"},
		{"a_field_repeated_too_often", `{ viewer { role role role } }`, "more than 2 times"},
		{"repeats_through_fragments", `{ viewer { role ...A ...B } } fragment A on Viewer { role } fragment B on Viewer { role }`, "more than 2 times"},
		{"too_many_fields_in_an_unused_fragment", `{ viewer { role } } fragment F on Viewer { a: role b: role scopes authMethod role user { id name } }`, "too many fields"},
		{"fragments_in_a_cycle", `{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }`, "cycle"},
		{"too_many_mutations", `mutation { a: revokeApiKey(id: "x") { id } b: revokeApiKey(id: "y") { id } revokeApiKey(id: "z") { id } }`, "at most 2 mutations"},
		{"too_many_mutations_through_a_fragment", `mutation { ...M ...M2 } fragment M on Mutation { revokeApiKey(id: "x") { id } } fragment M2 on Mutation { revokeOAuthClient(id: "y") { id } removeMember(input: {userId: "z"}) { member { role } } }`, "at most 2 mutations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp map[string]any
			err := c.Post(tc.query, &resp)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error about %q", err, tc.wantErr)
			}
		})
	}
}

func TestErrorPresenterHidesInternalErrors(t *testing.T) {
	// A service without a store fails inside the resolver: the client must see a
	// generic INTERNAL error, never the Go error text.
	svc := auth.NewService(nil, auth.Options{})
	p := &auth.Principal{UserID: "u", OrgID: "o", Role: auth.RoleOwner, Method: auth.MethodAPIKey}
	h := withPrincipal(NewHandler(svc, nil, DefaultLimits), p)
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { user { id } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(context.Background()))
	var body struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(body.Errors) != 1 || body.Errors[0].Message != "internal error" || body.Errors[0].Extensions["code"] != CodeInternal {
		t.Fatalf("got %s", rec.Body)
	}
}

func TestAClientThatWentAwayIsNoResolverFailure(t *testing.T) {
	var logs strings.Builder
	present := errorPresenter(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	canceled := fmt.Errorf("store: api keys: %w", context.Canceled)
	for _, c := range []struct {
		name  string
		ctx   context.Context
		level string
	}{
		{"client_gone", gone, `"level":"DEBUG","msg":"client disconnected"`},
		// A cancellation of our own, the client still there, is a failure.
		{"client_still_there", context.Background(), `"level":"ERROR","msg":"graphql resolver failed"`},
	} {
		logs.Reset()
		e := present(graphql.WithPathContext(c.ctx, graphql.NewPathWithField("viewer")), canceled)
		if e.Message != "internal error" || e.Extensions["code"] != CodeInternal || !strings.Contains(logs.String(), c.level) {
			t.Errorf("%s: %v %v, logged %s", c.name, e.Message, e.Extensions, logs.String())
		}
	}
}
