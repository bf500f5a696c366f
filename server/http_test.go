package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pentographer/pentographer/store/storetest"
)

// rawRequest sends bytes exactly as given, for headers net/http would refuse to
// send, and returns the status code.
func rawRequest(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func TestHostileAuthorizationHeaders(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		key := owner.key
		badChecksum := key[:49] + string("01"[map[bool]int{true: 1}[key[49] == '0']])
		query := `{"query":"{ viewer { role } }"}`
		post := func(headers map[string][]string, path string) response {
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(query))
			req.Header.Set("Content-Type", "application/json")
			for k, vs := range headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			return e.do(req)
		}
		auth := func(v ...string) map[string][]string { return map[string][]string{"Authorization": v} }

		cases := []struct {
			name    string
			headers map[string][]string
			path    string
			code    string // expected error code in the challenge
		}{
			{"wrong_scheme", auth("Basic " + key), "/graphql", "invalid_token"},
			{"token_scheme", auth("Token " + key), "/graphql", "invalid_token"},
			{"no_scheme", auth(key), "/graphql", "invalid_token"},
			{"bad_checksum", auth("Bearer " + badChecksum), "/graphql", "invalid_token"},
			{"truncated", auth("Bearer " + key[:30]), "/graphql", "invalid_token"},
			{"prefix_only", auth("Bearer ptg_"), "/graphql", "invalid_token"},
			{"16_KB_long", auth("Bearer ptg_" + strings.Repeat("A", 16<<10)), "/graphql", "invalid_token"},
			{"non_ASCII_bytes", auth("Bearer ptg_\xff\xfe" + key[6:]), "/graphql", "invalid_token"},
			{"tab_instead_of_space", auth("Bearer\t" + key), "/graphql", "invalid_token"},
			{"two_Authorization_headers", auth("Bearer "+key, "Bearer "+key), "/graphql", "invalid_request"},
			{"key_in_the_query_string", nil, "/graphql?access_token=" + key, "invalid_request"},
			{"key_in_another_parameter", nil, "/graphql?k=" + key, "invalid_request"},
			{"key_in_URL_and_header", auth("Bearer " + key), "/graphql?access_token=" + key, "invalid_request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := post(c.headers, c.path)
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
				}
				if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="`+c.code+`"`) {
					t.Fatalf("WWW-Authenticate %q", h)
				}
				if bytes.Contains(r.Body, []byte(key[4:20])) || strings.Contains(r.Header.Get("WWW-Authenticate"), key[4:20]) {
					t.Fatal("the answer echoes the credential")
				}
			})
		}
		t.Run("bearer_scheme_is_case_insensitive", func(t *testing.T) {
			for _, scheme := range []string{"bearer", "BEARER", "bEaReR"} {
				post(auth(scheme+" "+key), "/graphql").ok(t)
			}
		})
		t.Run("no_credential_gets_a_challenge_without_error_code", func(t *testing.T) {
			r := post(nil, "/graphql")
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="pentographer"` {
				t.Fatalf("%d %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		})
		// Bytes net/http will not send: the server must still refuse them without a 5xx.
		for name, value := range map[string]string{
			"NUL_byte":       "Bearer ptg_\x00" + key[5:],
			"escape_byte":    "Bearer \x1b[2J" + key,
			"bare_CR":        "Bearer " + key[:20] + "\r" + key[20:],
			"DEL_byte":       "Bearer " + key[:20] + "\x7f" + key[21:],
			"only_the_space": "Bearer  ",
		} {
			t.Run("raw_"+name, func(t *testing.T) {
				addr := strings.TrimPrefix(e.http.URL, "http://")
				raw := fmt.Sprintf("POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", value, len(query), query)
				status, body := rawRequest(t, addr, raw)
				if status != http.StatusUnauthorized && status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", status, body)
				}
				if strings.Contains(body, `"role"`) {
					t.Fatal("authenticated")
				}
			})
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		send := func(method, contentType, body string) response {
			req, _ := http.NewRequest(method, e.http.URL+"/graphql", strings.NewReader(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			req.Header.Set("Authorization", "Bearer "+owner.key)
			return e.do(req)
		}
		marker := "XYZZY-MARKER"
		cases := []struct {
			name, contentType, body string
			status                  int
		}{
			{"invalid_JSON", "application/json", `{"query": "` + marker, http.StatusBadRequest},
			{"JSON_array_batch", "application/json", `[{"query":"{ viewer { role } }"},{"query":"` + marker + `"}]`, http.StatusBadRequest},
			{"trailing_garbage", "application/json", `{"query":"{ viewer { role } }"} ` + marker, http.StatusBadRequest},
			{"wrong_content_type", "text/plain", `{"query":"{ viewer { role } }", "x": "` + marker + `"}`, http.StatusUnsupportedMediaType},
			{"form_body", "application/x-www-form-urlencoded", "query=" + marker, http.StatusUnsupportedMediaType},
			{"no_content_type", "", `{"query":"` + marker + `"}`, http.StatusUnsupportedMediaType},
			{"empty_body", "application/json", ``, http.StatusBadRequest},
			{"query_not_a_string", "application/json", `{"query": ["` + marker + `"]}`, http.StatusBadRequest},
			{"empty_query", "application/json", `{"query": "  "}`, http.StatusBadRequest},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := send(http.MethodPost, c.contentType, c.body)
				if r.Status != c.status {
					t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
				}
				if len(r.Errors) == 0 || r.Errors[0].Message == "" {
					t.Fatalf("no clear error: %s", r.Body)
				}
				if bytes.Contains(r.Body, []byte(marker)) {
					t.Fatalf("the error echoes the request: %s", r.Body)
				}
			})
		}
		t.Run("GET_never_runs_mutations", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.http.URL+`/graphql?query=`+urlEscape(`mutation { createApiKey(input: {name: "via GET"}) { secret } }`), nil)
			req.Header.Set("Authorization", "Bearer "+owner.key)
			r := e.do(req)
			if r.Status == http.StatusOK || strings.Contains(string(r.Body), "ptg_") {
				t.Fatalf("GET ran a mutation: %d %s", r.Status, r.Body)
			}
			list := e.gql(owner.key, `{ viewer { apiKeys { edges { node { name } } } } }`, nil).ok(t)
			if strings.Contains(string(list.Body), "via GET") {
				t.Fatal("the key was created")
			}
		})
		t.Run("GET_runs_queries", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.http.URL+`/graphql?query=`+urlEscape(`{ viewer { role } }`), nil)
			req.Header.Set("Authorization", "Bearer "+owner.key)
			req.Header.Set("Accept", "application/graphql-response+json")
			r := e.do(req).ok(t)
			if r.str("viewer", "role") != "OWNER" || r.Header.Get("Content-Type") != "application/graphql-response+json" {
				t.Fatalf("%s %s", r.Header.Get("Content-Type"), r.Body)
			}
		})
		t.Run("an_8_MiB_body_is_refused", func(t *testing.T) {
			big := `{"query":"{ viewer { role } }","variables":{"x":"` + strings.Repeat("a", 8<<20) + `"}}`
			r := send(http.MethodPost, "application/json", big)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d", r.Status)
			}
		})
		t.Run("an_8_MiB_chunked_body_is_refused", func(t *testing.T) {
			big := `{"query":"{ viewer { role } }","variables":{"x":"` + strings.Repeat("a", 8<<20) + `"}}`
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/graphql", io.MultiReader(strings.NewReader(big)))
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+owner.key)
			r := e.do(req)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d: %.200s", r.Status, r.Body)
			}
		})
		t.Run("a_2000_alias_query_is_refused", func(t *testing.T) {
			r := e.gql(owner.key, aliasQuery(2000), nil)
			if r.Status == http.StatusOK || len(r.Errors) == 0 || r.get("a0") != nil {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
		})
		t.Run("aliases_beyond_the_limit_are_refused", func(t *testing.T) {
			r := e.gql(owner.key, aliasQuery(40), nil)
			if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "aliases") {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
		})
		t.Run("complexity_is_limited", func(t *testing.T) {
			q := `{ viewer { organization {
				a: apiKeys(first: 100) { edges { node { id name hint scopes status createdAt owner { id email name } } } }
				b: apiKeys(first: 100) { edges { node { id name hint scopes status createdAt owner { id email name } } } }
				c: apiKeys(first: 100) { edges { node { id name hint scopes status createdAt owner { id email name } } } }
				d: apiKeys(first: 100) { edges { node { id name hint scopes status createdAt owner { id email name } } } }
				e: apiKeys(first: 100) { edges { node { id name hint scopes status createdAt owner { id email name } } } }
			} } }`
			r := e.gql(owner.key, q, nil)
			if len(r.Errors) == 0 || !strings.Contains(strings.ToLower(r.Errors[0].Message), "complexity") {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
		})
		t.Run("other_methods_are_405", func(t *testing.T) {
			r := send(http.MethodPut, "application/json", `{"query":"{ viewer { role } }"}`)
			if r.Status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d", r.Status)
			}
		})
	})
}

// aliasQuery asks for viewer n times, each under its own alias.
func aliasQuery(n int) string {
	var q strings.Builder
	q.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&q, "a%d: viewer { role } ", i)
	}
	q.WriteString("}")
	return q.String()
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestPagesAndProbes(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		get := func(path, accept string) response {
			req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			return e.do(req)
		}
		for _, c := range []struct {
			name, path, accept string
			status             int
			contains           string
		}{
			{"healthz", "/healthz", "", 200, `"ok"`},
			{"readyz", "/readyz", "", 200, `"ready"`},
			{"explorer", "/explorer", "text/html", 200, "Authorization"},
			{"explorer_on_GET_graphql_for_browsers", "/graphql", "text/html,application/xhtml+xml", 200, "<html"},
			{"GET_graphql_for_programs_needs_a_credential", "/graphql?query=%7B__typename%7D", "application/json", 401, "unauthorized"},
			{"unknown_path", "/nope", "", 404, "not_found"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := get(c.path, c.accept)
				if r.Status != c.status || !strings.Contains(string(r.Body), c.contains) {
					t.Fatalf("%d %.300s", r.Status, r.Body)
				}
				if r.Header.Get("X-Request-Id") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Fatalf("headers %v", r.Header)
				}
			})
		}
		t.Run("readyz_fails_when_the_database_is_gone", func(t *testing.T) {
			_ = e.st.Close()
			r := get("/readyz", "")
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("%d", r.Status)
			}
		})
	})
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		_, secret := e.createKey(owner, "logged?", nil)
		// A failing request of every kind, each carrying a secret somewhere.
		e.gql(secret, `{ viewer { role } }`, nil)
		e.gql(secret+"0", `{ viewer { role } }`, nil)
		e.gql(secret, `{ viewer { organization { nope } } }`, nil)
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/graphql?access_token="+secret, nil)
		e.do(req)
		req, _ = http.NewRequest(http.MethodPost, e.http.URL+"/graphql", strings.NewReader(`{"query":"`+secret))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Cookie", "session="+secret)
		e.do(req)
		// And the OAuth endpoints, with secrets in forms, headers and tokens.
		c := e.createClient(owner, "logged client", nil)
		tok := e.token(c, "")
		e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret + "x"}}, "", "")
		e.form("/api/oauth/introspect", url.Values{"token": {tok}}, c.clientID, c.secret)
		e.form("/api/oauth/revoke", url.Values{"token": {tok}}, c.clientID, c.secret)
		e.gql(tok, `{ viewer { role } }`, nil)
		logs := e.logs.String()
		for _, s := range []string{c.secret[5:45], tok[len(tok)-40:], strings.Split(tok, ".")[1][:40]} {
			if strings.Contains(logs, s) {
				t.Fatalf("the log holds a secret or token:\n%s", logs)
			}
		}
		if !strings.Contains(logs, `"path":"/graphql"`) {
			t.Fatalf("no access log lines: %s", logs)
		}
		if strings.Contains(logs, secret[4:44]) || strings.Contains(logs, owner.key[4:44]) {
			t.Fatalf("the log holds a secret:\n%s", logs)
		}
	})
}

// TestTheExplorersSchemaLoadIsAdmitted sends graphql-js's standard introspection
// query (what GraphiQL, Apollo, Postman and codegen send) through the whole HTTP
// stack with a key: the explorer's docs pane and autocomplete depend on it.
func TestTheExplorersSchemaLoadIsAdmitted(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	owner := e.bootstrap("Acme", "owner@acme.test")
	raw, err := os.ReadFile("../graph/testdata/introspection-query.graphql")
	if err != nil {
		t.Fatal(err)
	}
	r := e.gql(owner.key, string(raw), nil).ok(t)
	if r.get("__schema", "queryType", "name") != "Query" || r.get("__schema", "mutationType", "name") != "Mutation" {
		t.Fatalf("answer %.300s", r.Body)
	}
}
