package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/pentographer/pentographer/auth"
)

// standardIntrospectionQuery is graphql-js's getIntrospectionQuery with every
// option on, as GraphiQL, Apollo, Postman, Insomnia and codegen send it.
func standardIntrospectionQuery(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/introspection-query.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") { // the file's own header
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// postQuery sends one GraphQL request through the handler as p and decodes it.
func postQuery(t testing.TB, h http.Handler, query string) (int, map[string]json.RawMessage) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return rec.Code, out
}

func TestTheStandardIntrospectionQueryIsAdmitted(t *testing.T) {
	svc := auth.NewService(nil, auth.Options{})
	p := &auth.Principal{UserID: "u", OrgID: "o", Role: auth.RoleMember, Method: auth.MethodAPIKey}
	h := withPrincipal(NewHandler(svc, nil, DefaultLimits), p)

	status, out := postQuery(t, h, standardIntrospectionQuery(t))
	if status != http.StatusOK || out["errors"] != nil {
		t.Fatalf("status %d: %s", status, out["errors"])
	}
	var data struct {
		Schema introspectedSchema `json:"__schema"`
	}
	if err := json.Unmarshal(out["data"], &data); err != nil {
		t.Fatal(err)
	}
	// The answer must be enough to rebuild the schema: a client's docs pane and
	// autocomplete are built from exactly this.
	sdl := data.Schema.sdl()
	rebuilt, gqlErr := gqlparser.LoadSchema(&ast.Source{Name: "introspected", Input: sdl})
	if gqlErr != nil {
		t.Fatalf("the introspection answer does not build a schema: %v\n%s", gqlErr, sdl)
	}
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	want, gqlErr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gqlErr != nil {
		t.Fatal(gqlErr)
	}
	for name, def := range want.Types {
		got := rebuilt.Types[name]
		if got == nil {
			t.Errorf("type %s is missing from the introspected schema", name)
			continue
		}
		if got.Kind != def.Kind {
			t.Errorf("type %s is %s, want %s", name, got.Kind, def.Kind)
		}
		for _, f := range def.Fields {
			gf := got.Fields.ForName(f.Name)
			if gf == nil || gf.Type.String() != f.Type.String() || len(gf.Arguments) != len(f.Arguments) {
				t.Errorf("%s.%s is %v, want %s with %d arguments", name, f.Name, gf, f.Type, len(f.Arguments))
			}
		}
	}
	if rebuilt.Query.Name != "Query" || rebuilt.Mutation == nil || rebuilt.Mutation.Name != "Mutation" {
		t.Fatal("root types are wrong")
	}
	if d := rebuilt.Directives["hasRole"]; d == nil || len(d.Arguments) != 1 {
		t.Fatal("@hasRole is missing")
	}
}

func TestHostileIntrospectionIsRefused(t *testing.T) {
	svc := auth.NewService(nil, auth.Options{})
	p := &auth.Principal{UserID: "u", OrgID: "o", Role: auth.RoleMember, Method: auth.MethodAPIKey}
	h := withPrincipal(NewHandler(svc, nil, DefaultLimits), p)
	ofTypes := func(n int) string {
		return strings.Repeat("ofType { ", n) + "name" + strings.Repeat(" }", n)
	}
	cases := []struct{ name, query string }{
		{"nested_fields_lists", `{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`},
		{"nested_through_type", `{ __type(name: "Query") { fields { type { interfaces { fields { name } } } } } }`},
		{"nested_possibleTypes", `{ __schema { types { possibleTypes { interfaces { possibleTypes { name } } } } } }`},
		{"nested_through_fragments", `{ __schema { types { ...T } } } fragment T on __Type { fields { type { ...U } } } fragment U on __Type { fields { type { fields { name } } } }`},
		{"a_long_ofType_chain", `{ __type(name: "Query") { ` + ofTypes(40) + ` } }`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := postQuery(t, h, c.query)
			if status != http.StatusUnprocessableEntity || !bytes.Contains(out["errors"], []byte("GRAPHQL_VALIDATION_FAILED")) {
				t.Fatalf("status %d: %s", status, out["errors"])
			}
		})
	}
	t.Run("a_deep_ordinary_query_next_to_introspection_is_still_limited", func(t *testing.T) {
		// 13 levels of fields that do not even exist: the depth limit answers
		// before validation looks at them.
		q := `{ __schema { queryType { name } } ` + strings.Repeat("a { ", 13) + "b" + strings.Repeat(" }", 13) + ` }`
		status, out := postQuery(t, h, q)
		if status != http.StatusUnprocessableEntity || !bytes.Contains(out["errors"], []byte("nested too deeply")) {
			t.Fatalf("status %d: %s", status, out["errors"])
		}
	})
}

// BenchmarkRefuseThreeThousandFields measures the refusal of a document whose
// validation would cost about a second (gqlparser's overlapping-fields rule is
// quadratic in repeated fields): the cheap limits refuse it before validation.
func BenchmarkRefuseThreeThousandFields(b *testing.B) {
	svc := auth.NewService(nil, auth.Options{})
	p := &auth.Principal{UserID: "u", OrgID: "o", Role: auth.RoleMember, Method: auth.MethodAPIKey}
	h := withPrincipal(NewHandler(svc, nil, DefaultLimits), p)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// A unique comment defeats the query cache, as an attacker would.
		q := fmt.Sprintf("# %d\n{ %s}", i, strings.Repeat("__typename ", 2995))
		status, _ := postQuery(b, h, q)
		if status != http.StatusUnprocessableEntity {
			b.Fatalf("status %d", status)
		}
	}
}

// introspectedSchema is the part of an introspection answer a client builds its
// schema from.
type introspectedSchema struct {
	QueryType    *struct{ Name string } `json:"queryType"`
	MutationType *struct{ Name string } `json:"mutationType"`
	Types        []introspectedType     `json:"types"`
	Directives   []struct {
		Name      string              `json:"name"`
		Locations []string            `json:"locations"`
		Args      []introspectedValue `json:"args"`
	} `json:"directives"`
}

type introspectedType struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Fields []struct {
		Name string              `json:"name"`
		Args []introspectedValue `json:"args"`
		Type typeRef             `json:"type"`
	} `json:"fields"`
	InputFields   []introspectedValue `json:"inputFields"`
	Interfaces    []typeRef           `json:"interfaces"`
	EnumValues    []struct{ Name string }
	PossibleTypes []typeRef `json:"possibleTypes"`
}

type introspectedValue struct {
	Name string  `json:"name"`
	Type typeRef `json:"type"`
}

type typeRef struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	OfType *typeRef `json:"ofType"`
}

func (r typeRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return r.Name
}

// sdl writes the introspected schema as SDL, the way a client's buildClientSchema
// would rebuild it (built-in scalars and introspection types left out).
func (s introspectedSchema) sdl() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema { query: %s", s.QueryType.Name)
	if s.MutationType != nil {
		fmt.Fprintf(&b, " mutation: %s", s.MutationType.Name)
	}
	b.WriteString(" }\n")
	args := func(vs []introspectedValue) string {
		if len(vs) == 0 {
			return ""
		}
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = v.Name + ": " + v.Type.String()
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	builtin := []string{"String", "Int", "Float", "Boolean", "ID"}
	for _, t := range s.Types {
		if strings.HasPrefix(t.Name, "__") || slices.Contains(builtin, t.Name) {
			continue
		}
		switch t.Kind {
		case "SCALAR":
			fmt.Fprintf(&b, "scalar %s\n", t.Name)
		case "ENUM":
			names := make([]string, len(t.EnumValues))
			for i, v := range t.EnumValues {
				names[i] = v.Name
			}
			fmt.Fprintf(&b, "enum %s { %s }\n", t.Name, strings.Join(names, " "))
		case "INPUT_OBJECT":
			fmt.Fprintf(&b, "input %s {\n", t.Name)
			for _, f := range t.InputFields {
				fmt.Fprintf(&b, "  %s: %s\n", f.Name, f.Type)
			}
			b.WriteString("}\n")
		case "UNION":
			names := make([]string, len(t.PossibleTypes))
			for i, p := range t.PossibleTypes {
				names[i] = p.Name
			}
			fmt.Fprintf(&b, "union %s = %s\n", t.Name, strings.Join(names, " | "))
		case "OBJECT", "INTERFACE":
			kw := map[string]string{"OBJECT": "type", "INTERFACE": "interface"}[t.Kind]
			fmt.Fprintf(&b, "%s %s", kw, t.Name)
			if len(t.Interfaces) > 0 {
				names := make([]string, len(t.Interfaces))
				for i, p := range t.Interfaces {
					names[i] = p.Name
				}
				fmt.Fprintf(&b, " implements %s", strings.Join(names, " & "))
			}
			b.WriteString(" {\n")
			for _, f := range t.Fields {
				fmt.Fprintf(&b, "  %s%s: %s\n", f.Name, args(f.Args), f.Type)
			}
			b.WriteString("}\n")
		}
	}
	for _, d := range s.Directives {
		if slices.Contains([]string{"skip", "include", "deprecated", "specifiedBy", "oneOf", "defer"}, d.Name) {
			continue
		}
		fmt.Fprintf(&b, "directive @%s%s on %s\n", d.Name, args(d.Args), strings.Join(d.Locations, " | "))
	}
	return b.String()
}
