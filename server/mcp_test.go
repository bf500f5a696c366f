package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pentographer/pentographer/mcp"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// forEachMCPEnv is forEachEnv whose server allows rate MCP requests per minute
// and credential (0: the default).
func forEachMCPEnv(t *testing.T, rate int, fn func(t *testing.T, e *env)) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		fn(t, newEnvConfig(t, st, func(c *Config) { c.MCPRate = rate }))
	})
}

// bearerTransport adds a bearer credential to every request, as an AI editor
// configured with a header does.
type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connectMCP connects the Go SDK's client to /mcp over real HTTP with token.
func (e *env) connectMCP(t testing.TB, token string) (*sdk.ClientSession, error) {
	t.Helper()
	client := sdk.NewClient(&sdk.Implementation{Name: "pentographer-test", Version: "1"}, nil)
	transport := &sdk.StreamableClientTransport{
		Endpoint:   e.http.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{token: token, base: e.http.Client().Transport}, Timeout: 30 * time.Second},
		MaxRetries: -1,
	}
	cs, err := client.Connect(context.Background(), transport, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}

func (e *env) mcpSession(t testing.TB, token string) *sdk.ClientSession {
	t.Helper()
	cs, err := e.connectMCP(t, token)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return cs
}

// toolResult is a tools/call answer.
type toolResult struct {
	isError    bool
	text       []string
	structured json.RawMessage
}

func callTool(t testing.TB, cs *sdk.ClientSession, name string, args map[string]any) toolResult {
	t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	r := toolResult{isError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			r.text = append(r.text, tc.Text)
		}
	}
	if res.StructuredContent != nil {
		r.structured, _ = json.Marshal(res.StructuredContent)
	}
	return r
}

// ok fails unless the call succeeded, and decodes its structured content into out.
func (r toolResult) ok(t testing.TB, out any) toolResult {
	t.Helper()
	if r.isError {
		t.Fatalf("tool error: %q", r.text)
	}
	if len(r.text) != 2 || r.text[0] == "" || !json.Valid([]byte(r.text[1])) {
		t.Fatalf("want a summary and the JSON result as text, got %q", r.text)
	}
	if out != nil {
		if err := json.Unmarshal(r.structured, out); err != nil {
			t.Fatalf("structured content %s: %v", r.structured, err)
		}
	}
	return r
}

// mcpPost sends one raw JSON-RPC message to /mcp.
func (e *env) mcpPost(token, body string, header map[string]string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

const whoamiCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`

// TestMCPToolsFollowTheGraphQLRules calls every tool as MEMBER, ADMIN, OWNER, a
// narrow-scope key and another organization's OWNER, and its GraphQL twin the
// same way: both must give the same outcome, and a refusal over MCP is a tool
// result with isError whose text names the missing role or scope, or says
// "not found".
func TestMCPToolsFollowTheGraphQLRules(t *testing.T) {
	forEachMCPEnv(t, 10000, func(t *testing.T, e *env) {
		tm := e.team()
		_, narrow := e.createKey(tm.owner, "keys:read only", map[string]any{"scopes": []string{"keys:read"}})
		callers := []struct{ name, key string }{
			{"member", tm.member.key}, {"admin", tm.admin.key}, {"owner", tm.owner.key},
			{"narrow_scope_key", narrow}, {"other_organization", tm.outsider.key},
		}
		sessions := map[string]*sdk.ClientSession{}
		for _, c := range callers {
			sessions[c.key] = e.mcpSession(t, c.key)
		}
		const (
			admin   = "FORBIDDEN:ADMIN role"
			missing = "NOT_FOUND"
		)
		scope := func(s string) outcome { return outcome("FORBIDDEN:" + s + " scope") }
		type twin struct {
			tool string
			args func() map[string]any
			gql  func(key string, args map[string]any) response
		}
		listOwn := func(field string) func(string, map[string]any) response {
			return func(key string, _ map[string]any) response {
				return e.gql(key, `{ viewer { `+field+` { edges { node { id } } } } }`, nil)
			}
		}
		listOrg := func(field string) func(string, map[string]any) response {
			return func(key string, _ map[string]any) response {
				return e.gql(key, `{ viewer { organization { `+field+` { edges { cursor } } } } }`, nil)
			}
		}
		args := func(kv ...any) func() map[string]any {
			return func() map[string]any {
				m := map[string]any{}
				for i := 0; i < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}
		}
		keyOf := func(a actor) func() map[string]any {
			return func() map[string]any { id, _ := e.createKey(a, "target", nil); return map[string]any{"id": id} }
		}
		clientOf := func(a actor) func() map[string]any {
			return func() map[string]any { return map[string]any{"id": e.createClient(a, "target", nil).id} }
		}
		ops := []struct {
			name string
			twin
			want []outcome // per caller, in the order above
		}{
			{"whoami", twin{mcp.ToolWhoAmI, args(), func(key string, _ map[string]any) response {
				return e.gql(key, `{ viewer { role user { email } organization { slug } } }`, nil)
			}}, []outcome{"ok", "ok", "ok", "ok", "ok"}},
			{"list_own_api_keys", twin{mcp.ToolListAPIKeys, args(), listOwn("apiKeys")},
				[]outcome{"ok", "ok", "ok", "ok", "ok"}},
			{"list_all_api_keys", twin{mcp.ToolListAPIKeys, args("all", true), listOrg("apiKeys")},
				[]outcome{admin, "ok", "ok", "ok", "ok"}},
			{"list_own_oauth_clients", twin{mcp.ToolListOAuthClients, args("include_revoked", true), listOwn("oauthClients")},
				[]outcome{"ok", "ok", "ok", scope("clients:read"), "ok"}},
			{"list_all_oauth_clients", twin{mcp.ToolListOAuthClients, args("all", true), listOrg("oauthClients")},
				[]outcome{admin, "ok", "ok", scope("clients:read"), "ok"}},
			{"create_api_key", twin{mcp.ToolCreateAPIKey, args("name", "made by a tool"), func(key string, a map[string]any) response {
				return e.gql(key, createKeyMutation, map[string]any{"in": a})
			}}, []outcome{"ok", "ok", "ok", scope("keys:write"), "ok"}},
			{"revoke_api_key_of_another_member", twin{mcp.ToolRevokeAPIKey, keyOf(tm.member2), func(key string, a map[string]any) response {
				return e.gql(key, revokeKeyMutation, a)
			}}, []outcome{missing, "ok", "ok", scope("keys:write"), missing}},
			{"revoke_api_key_of_the_owner", twin{mcp.ToolRevokeAPIKey, keyOf(tm.owner), func(key string, a map[string]any) response {
				return e.gql(key, revokeKeyMutation, a)
			}}, []outcome{missing, "ok", "ok", scope("keys:write"), missing}},
			{"revoke_api_key_that_does_not_exist", twin{mcp.ToolRevokeAPIKey, args("id", "01900000-0000-7000-8000-000000000000"), func(key string, a map[string]any) response {
				return e.gql(key, revokeKeyMutation, a)
			}}, []outcome{missing, missing, missing, scope("keys:write"), missing}},
			{"create_oauth_client", twin{mcp.ToolCreateOAuthClient, args("name", "made by a tool", "scopes", []string{"keys:read"}), func(key string, a map[string]any) response {
				return e.gql(key, createClientMutation, map[string]any{"in": a})
			}}, []outcome{"ok", "ok", "ok", scope("clients:write"), "ok"}},
			{"revoke_oauth_client_of_another_member", twin{mcp.ToolRevokeOAuthClient, clientOf(tm.member2), func(key string, a map[string]any) response {
				return e.gql(key, revokeClientMutation, a)
			}}, []outcome{missing, "ok", "ok", scope("clients:write"), missing}},
			{"list_members", twin{mcp.ToolListMembers, args("first", 10), listOrg("members")},
				[]outcome{admin, "ok", "ok", scope("members:read"), "ok"}},
			{"read_audit_log", twin{mcp.ToolReadAuditLog, args("first", 10), listOrg("auditLog")},
				[]outcome{admin, "ok", "ok", scope("audit:read"), "ok"}},
		}
		for _, op := range ops {
			for i, c := range callers {
				t.Run(op.name+"/"+c.name, func(t *testing.T) {
					want := op.want[i]
					res := callTool(t, sessions[c.key], op.tool, op.args())
					gql := op.gql(c.key, op.args())
					code, needle, _ := strings.Cut(string(want), ":")
					switch want {
					case "ok":
						res.ok(t, nil)
						gql.ok(t)
						return
					case missing:
						if !res.isError || len(res.text) != 1 || res.text[0] != "not found" {
							t.Fatalf("MCP: want isError with \"not found\", got %v %q", res.isError, res.text)
						}
					default:
						if !res.isError || len(res.text) != 1 || !strings.Contains(res.text[0], needle) {
							t.Fatalf("MCP: want isError naming %q, got %v %q", needle, res.isError, res.text)
						}
						if len(gql.Errors) == 0 || !strings.Contains(gql.Errors[0].Message, needle) {
							t.Fatalf("GraphQL: want an error naming %q, got %s", needle, gql.Body)
						}
					}
					if res.structured != nil {
						t.Fatalf("an error result carries structured content: %s", res.structured)
					}
					if gql.code() != code {
						t.Fatalf("GraphQL twin: want %s, got %s", code, gql.Body)
					}
				})
			}
		}
	})
}

func TestMCPRefusedCallsChangeNothing(t *testing.T) {
	forEachMCPEnv(t, 0, func(t *testing.T, e *env) {
		tm := e.team()
		targetID, targetSecret := e.createKey(tm.member2, "target", nil)
		target := e.createClient(tm.member2, "target", nil)
		_, narrow := e.createKey(tm.owner, "read only", map[string]any{"scopes": []string{"keys:read"}})
		count := func() int {
			r := e.gql(tm.owner.key, `{ viewer { organization { apiKeys(first: 100, includeRevoked: true) { edges { cursor } }
				oauthClients(first: 100, includeRevoked: true) { edges { cursor } } } } }`, nil).ok(t)
			org := r.get("viewer", "organization").(map[string]any)
			return len(org["apiKeys"].(map[string]any)["edges"].([]any)) + len(org["oauthClients"].(map[string]any)["edges"].([]any))
		}
		before := count()
		for _, c := range []struct {
			name string
			key  string
			tool string
			args map[string]any
		}{
			{"member_revoking_another_members_key", tm.member.key, mcp.ToolRevokeAPIKey, map[string]any{"id": targetID}},
			{"other_organization_revoking_a_key", tm.outsider.key, mcp.ToolRevokeAPIKey, map[string]any{"id": targetID}},
			{"narrow_key_revoking_a_key", narrow, mcp.ToolRevokeAPIKey, map[string]any{"id": targetID}},
			{"member_revoking_another_members_client", tm.member.key, mcp.ToolRevokeOAuthClient, map[string]any{"id": target.id}},
			{"other_organization_revoking_a_client", tm.outsider.key, mcp.ToolRevokeOAuthClient, map[string]any{"id": target.id}},
			{"narrow_key_creating_a_key", narrow, mcp.ToolCreateAPIKey, map[string]any{"name": "x"}},
			{"narrow_key_creating_a_client", narrow, mcp.ToolCreateOAuthClient, map[string]any{"name": "x"}},
			{"member_granting_an_admin_scope", tm.member.key, mcp.ToolCreateAPIKey, map[string]any{"name": "x", "scopes": []string{"members:read"}}},
			{"unknown_scope", tm.owner.key, mcp.ToolCreateAPIKey, map[string]any{"name": "x", "scopes": []string{"root:all"}}},
			{"blank_name", tm.owner.key, mcp.ToolCreateAPIKey, map[string]any{"name": " "}},
			{"past_expiry", tm.owner.key, mcp.ToolCreateAPIKey, map[string]any{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}},
			{"unparsable_expiry", tm.owner.key, mcp.ToolCreateAPIKey, map[string]any{"name": "x", "expires_at": "tomorrow"}},
			{"missing_name", tm.owner.key, mcp.ToolCreateAPIKey, map[string]any{}},
			{"unknown_argument", tm.owner.key, mcp.ToolCreateAPIKey, map[string]any{"name": "x", "owner": "someone else"}},
			{"page_size_too_large", tm.owner.key, mcp.ToolListAPIKeys, map[string]any{"first": 101}},
			{"page_size_zero", tm.owner.key, mcp.ToolListAPIKeys, map[string]any{"first": 0}},
			{"forged_cursor", tm.owner.key, mcp.ToolListAPIKeys, map[string]any{"after": "djE6Jyk7IERST1A="}},
		} {
			t.Run(c.name, func(t *testing.T) {
				res := callTool(t, e.mcpSession(t, c.key), c.tool, c.args)
				if !res.isError || len(res.text) != 1 || res.text[0] == "" || strings.Contains(res.text[0], "internal") {
					t.Fatalf("want a clear isError result, got %v %q", res.isError, res.text)
				}
			})
		}
		if after := count(); after != before {
			t.Fatalf("%d credentials appeared", after-before)
		}
		e.gql(targetSecret, `{ viewer { role } }`, nil).ok(t)
		if tok := e.token(target, ""); tok == "" {
			t.Fatal("the target client stopped working")
		}
	})
}

func TestMCPHandshakeAndToolList(t *testing.T) {
	forEachMCPEnv(t, 0, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		cs := e.mcpSession(t, owner.key)
		init := cs.InitializeResult()
		if init.ServerInfo.Name != mcp.ServerName || init.ProtocolVersion < "2025-06-18" || init.Capabilities.Tools == nil {
			t.Fatalf("initialize: %+v %+v", init.ServerInfo, init)
		}
		res, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]*sdk.Tool{}
		for _, tool := range res.Tools {
			byName[tool.Name] = tool
		}
		want := []struct {
			name                  string
			readOnly, destructive bool
			required              []string
			properties            []string
		}{
			{mcp.ToolWhoAmI, true, false, nil, nil},
			{mcp.ToolListAPIKeys, true, false, nil, []string{"after", "all", "first", "include_revoked"}},
			{mcp.ToolListOAuthClients, true, false, nil, []string{"after", "all", "first", "include_revoked"}},
			{mcp.ToolCreateAPIKey, false, false, []string{"name"}, []string{"expires_at", "name", "scopes"}},
			{mcp.ToolRevokeAPIKey, false, true, []string{"id"}, []string{"id"}},
			{mcp.ToolCreateOAuthClient, false, false, []string{"name"}, []string{"name", "scopes"}},
			{mcp.ToolRevokeOAuthClient, false, true, []string{"id"}, []string{"id"}},
			{mcp.ToolListMembers, true, false, nil, []string{"after", "first"}},
			{mcp.ToolReadAuditLog, true, false, nil, []string{"after", "first"}},
		}
		if len(res.Tools) != len(want) {
			t.Fatalf("%d tools", len(res.Tools))
		}
		for _, w := range want {
			t.Run(w.name, func(t *testing.T) {
				tool := byName[w.name]
				if tool == nil {
					t.Fatal("missing")
				}
				a := tool.Annotations
				if a == nil || a.Title == "" || tool.Title == "" || tool.Description == "" {
					t.Fatalf("title, annotations or description missing: %+v", tool)
				}
				if a.ReadOnlyHint != w.readOnly || a.DestructiveHint == nil && !w.readOnly || a.DestructiveHint != nil && *a.DestructiveHint != w.destructive {
					t.Fatalf("annotations %+v", a)
				}
				if a.OpenWorldHint == nil || *a.OpenWorldHint {
					t.Fatalf("openWorldHint %+v", a)
				}
				var in, out struct {
					Type       string                     `json:"type"`
					Required   []string                   `json:"required"`
					Properties map[string]json.RawMessage `json:"properties"`
				}
				raw, _ := json.Marshal(tool.InputSchema)
				_ = json.Unmarshal(raw, &in)
				if in.Type != "object" || fmt.Sprint(in.Required) != fmt.Sprint(w.required) {
					t.Fatalf("input schema %s", raw)
				}
				var props []string
				for p := range in.Properties {
					props = append(props, p)
				}
				slices.Sort(props)
				if fmt.Sprint(props) != fmt.Sprint(w.properties) {
					t.Fatalf("input properties %v", props)
				}
				raw, _ = json.Marshal(tool.OutputSchema)
				_ = json.Unmarshal(raw, &out)
				if out.Type != "object" || len(out.Properties) == 0 {
					t.Fatalf("output schema %s", raw)
				}
			})
		}
	})
}

func TestMCPToolResults(t *testing.T) {
	forEachMCPEnv(t, 0, func(t *testing.T, e *env) {
		tm := e.team()
		owner := e.mcpSession(t, tm.owner.key)

		t.Run("whoami_with_an_API_key", func(t *testing.T) {
			var who mcp.WhoAmI
			r := callTool(t, owner, mcp.ToolWhoAmI, nil).ok(t, &who)
			if who.User.Email != "owner@acme.test" || who.Organization.Slug != "acme" || who.Role != "OWNER" ||
				who.AuthMethod != "API_KEY" || !slices.Contains(who.Scopes, "audit:read") || who.CredentialID == "" {
				t.Fatalf("%+v", who)
			}
			if !strings.Contains(r.text[0], "owner@acme.test") || !strings.Contains(r.text[0], "OWNER") {
				t.Fatalf("summary %q", r.text[0])
			}
		})

		t.Run("whoami_with_an_access_token", func(t *testing.T) {
			c := e.createClient(tm.admin, "editor", []string{"keys:read"})
			tok := e.token(c, "")
			var who mcp.WhoAmI
			callTool(t, e.mcpSession(t, tok), mcp.ToolWhoAmI, nil).ok(t, &who)
			if who.AuthMethod != "ACCESS_TOKEN" || who.Role != "ADMIN" || fmt.Sprint(who.Scopes) != "[keys:read]" || who.ExpiresAt == nil {
				t.Fatalf("%+v", who)
			}
			var keys mcp.APIKeyList
			callTool(t, e.mcpSession(t, tok), mcp.ToolListAPIKeys, map[string]any{"all": true}).ok(t, &keys)
			if len(keys.APIKeys) < 4 {
				t.Fatalf("%d keys", len(keys.APIKeys))
			}
		})

		t.Run("a_created_key_works_and_its_secret_is_shown_once", func(t *testing.T) {
			var created mcp.CreatedAPIKey
			r := callTool(t, owner, mcp.ToolCreateAPIKey, map[string]any{
				"name": "from the editor", "scopes": []string{"keys:read"}, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			}).ok(t, &created)
			k := created.APIKey
			if !strings.HasPrefix(created.Secret, "ptg_") || k.Name != "from the editor" || fmt.Sprint(k.Scopes) != "[keys:read]" ||
				k.Status != "ACTIVE" || k.ExpiresAt == nil || k.Owner.Email != "owner@acme.test" || !strings.Contains(r.text[1], created.Secret) {
				t.Fatalf("%+v", created)
			}
			if strings.Contains(r.text[0], created.Secret) {
				t.Fatal("the summary repeats the secret")
			}
			e.gql(created.Secret, `{ viewer { role } }`, nil).ok(t)
			var list mcp.APIKeyList
			l := callTool(t, owner, mcp.ToolListAPIKeys, map[string]any{"first": 100}).ok(t, &list)
			if strings.Contains(string(l.structured)+strings.Join(l.text, ""), created.Secret[4:44]) {
				t.Fatal("a listing shows a secret")
			}
			if !slices.ContainsFunc(list.APIKeys, func(x mcp.APIKey) bool { return x.ID == k.ID && x.Hint == k.Hint }) {
				t.Fatalf("the new key is not listed: %+v", list)
			}

			var revoked mcp.APIKey
			callTool(t, owner, mcp.ToolRevokeAPIKey, map[string]any{"id": k.ID}).ok(t, &revoked)
			if revoked.Status != "REVOKED" || revoked.RevokedAt == nil {
				t.Fatalf("%+v", revoked)
			}
			assertInvalidToken(t, e.gql(created.Secret, `{ viewer { role } }`, nil))
			callTool(t, owner, mcp.ToolRevokeAPIKey, map[string]any{"id": k.ID}).ok(t, &revoked) // idempotent
			callTool(t, owner, mcp.ToolListAPIKeys, nil).ok(t, &list)
			if slices.ContainsFunc(list.APIKeys, func(x mcp.APIKey) bool { return x.ID == k.ID }) {
				t.Fatal("a revoked key is listed without include_revoked")
			}
		})

		t.Run("a_created_client_gets_tokens_until_revoked", func(t *testing.T) {
			var created mcp.CreatedOAuthClient
			callTool(t, owner, mcp.ToolCreateOAuthClient, map[string]any{"name": "scanner", "scopes": []string{"keys:read"}}).ok(t, &created)
			c := oauthClient{id: created.OAuthClient.ID, clientID: created.ClientID, secret: created.ClientSecret}
			if !strings.HasPrefix(c.clientID, "ptgc_") || !strings.HasPrefix(c.secret, "ptgs_") || created.OAuthClient.ClientID != c.clientID {
				t.Fatalf("%+v", created)
			}
			tok := e.token(c, "")
			var list mcp.OAuthClientList
			l := callTool(t, owner, mcp.ToolListOAuthClients, nil).ok(t, &list)
			if len(list.OAuthClients) != 1 || strings.Contains(string(l.structured), c.secret[5:45]) {
				t.Fatalf("%s", l.structured)
			}
			var revoked mcp.OAuthClient
			callTool(t, owner, mcp.ToolRevokeOAuthClient, map[string]any{"id": c.id}).ok(t, &revoked)
			if revoked.Status != "REVOKED" {
				t.Fatalf("%+v", revoked)
			}
			assertInvalidToken(t, e.gql(tok, `{ viewer { role } }`, nil))
		})

		t.Run("members_and_their_roles", func(t *testing.T) {
			var members mcp.MemberList
			callTool(t, owner, mcp.ToolListMembers, nil).ok(t, &members)
			roles := map[string]mcp.Role{}
			for _, m := range members.Members {
				roles[m.User.Email] = m.Role
			}
			if len(roles) != 4 || roles["admin@acme.test"] != "ADMIN" || roles["owner@globex.test"] != "" {
				t.Fatalf("%v", roles)
			}
		})

		t.Run("another_organizations_lists_show_nothing_of_this_one", func(t *testing.T) {
			outsider := e.mcpSession(t, tm.outsider.key)
			for _, tool := range []string{mcp.ToolListAPIKeys, mcp.ToolListOAuthClients, mcp.ToolListMembers, mcp.ToolReadAuditLog} {
				r := callTool(t, outsider, tool, map[string]any{"all": true, "include_revoked": true})
				if tool == mcp.ToolListMembers || tool == mcp.ToolReadAuditLog {
					r = callTool(t, outsider, tool, nil)
				}
				r.ok(t, nil)
				if strings.Contains(string(r.structured), "acme") || strings.Contains(string(r.structured), tm.owner.userID) {
					t.Fatalf("%s shows Acme: %s", tool, r.structured)
				}
			}
		})

		t.Run("pages_follow_the_cursor", func(t *testing.T) {
			seen := map[string]bool{}
			after := ""
			for range 10 {
				args := map[string]any{"first": 2, "all": true}
				if after != "" {
					args["after"] = after
				}
				var page mcp.APIKeyList
				callTool(t, owner, mcp.ToolListAPIKeys, args).ok(t, &page)
				for _, k := range page.APIKeys {
					if seen[k.ID] {
						t.Fatalf("key %s listed twice", k.ID)
					}
					seen[k.ID] = true
				}
				if !page.HasNextPage {
					break
				}
				after = page.EndCursor
			}
			var all mcp.APIKeyList
			callTool(t, owner, mcp.ToolListAPIKeys, map[string]any{"first": 100, "all": true}).ok(t, &all)
			if len(seen) != len(all.APIKeys) || len(seen) < 4 {
				t.Fatalf("paged %d, all %d", len(seen), len(all.APIKeys))
			}
		})
	})
}

// TestMCPChangesAreAuditedAsMCP checks that a change made through a tool is in
// the audit log, over GraphQL and over MCP, marked as having come in by MCP.
func TestMCPChangesAreAuditedAsMCP(t *testing.T) {
	forEachMCPEnv(t, 0, func(t *testing.T, e *env) {
		tm := e.team()
		cs := e.mcpSession(t, tm.admin.key)
		var created mcp.CreatedAPIKey
		callTool(t, cs, mcp.ToolCreateAPIKey, map[string]any{"name": "audited"}).ok(t, &created)
		var revoked mcp.APIKey
		callTool(t, cs, mcp.ToolRevokeAPIKey, map[string]any{"id": created.APIKey.ID}).ok(t, &revoked)
		viaGraphQL, _ := e.createKey(tm.admin, "by graphql", nil)

		r := e.gql(tm.owner.key, `{ viewer { organization { auditLog(first: 10) { edges { node { action targetId via actor { credentialType } } } } } } }`, nil).ok(t)
		got := map[string]string{}
		for _, ed := range r.get("viewer", "organization", "auditLog").(map[string]any)["edges"].([]any) {
			n := ed.(map[string]any)["node"].(map[string]any)
			got[n["action"].(string)+" "+n["targetId"].(string)] = n["via"].(string) + " " + n["actor"].(map[string]any)["credentialType"].(string)
		}
		for event, want := range map[string]string{
			"api_key.created " + created.APIKey.ID: "MCP API_KEY",
			"api_key.revoked " + created.APIKey.ID: "MCP API_KEY",
			"api_key.created " + viaGraphQL:        "GRAPHQL API_KEY",
		} {
			if got[event] != want {
				t.Fatalf("%s: via %q, want %q (log %v)", event, got[event], want, got)
			}
		}
		var log mcp.AuditLog
		callTool(t, e.mcpSession(t, tm.owner.key), mcp.ToolReadAuditLog, map[string]any{"first": 5}).ok(t, &log)
		if !slices.ContainsFunc(log.Events, func(ev mcp.AuditEvent) bool {
			return ev.Action == "api_key.revoked" && ev.TargetID == created.APIKey.ID && ev.Via == "MCP" && ev.Actor.UserID == tm.admin.userID
		}) {
			t.Fatalf("%+v", log.Events)
		}
		if strings.Contains(e.logs.String(), created.Secret[4:44]) {
			t.Fatal("the log holds the created secret")
		}
	})
}

// TestMCPEndpoint checks the HTTP edge of /mcp: authentication, its challenges,
// the Origin check and the limits.
func TestMCPEndpoint(t *testing.T) {
	forEachMCPEnv(t, 5, func(t *testing.T, e *env) {
		tm := e.team()
		metadata := e.http.URL + "/.well-known/oauth-protected-resource/mcp"

		t.Run("no_credential_is_401_pointing_at_the_resource_metadata", func(t *testing.T) {
			r := e.mcpPost("", whoamiCall, nil)
			want := `Bearer realm="pentographer", resource_metadata="` + metadata + `"`
			if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != want {
				t.Fatalf("%d %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
		})
		t.Run("a_bad_credential_is_401_invalid_token", func(t *testing.T) {
			for _, bad := range []string{"ptg_nope", validLookingKey(), "eyJhbGciOiJub25lIn0.e30."} {
				r := e.mcpPost(bad, whoamiCall, nil)
				want := `Bearer realm="pentographer", resource_metadata="` + metadata + `", error="invalid_token"`
				if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), want) {
					t.Fatalf("%d %q", r.Status, r.Header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(r.Body), bad) {
					t.Fatal("the answer repeats the credential")
				}
			}
		})
		t.Run("a_credential_in_the_URL_is_refused", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/mcp?access_token="+tm.member.key, strings.NewReader(whoamiCall))
			req.Header.Set("Content-Type", "application/json")
			if r := e.do(req); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d", r.Status)
			}
		})
		t.Run("a_revoked_key_is_refused_on_the_next_request", func(t *testing.T) {
			id, secret := e.createKey(tm.member, "short lived", nil)
			cs := e.mcpSession(t, secret)
			callTool(t, cs, mcp.ToolWhoAmI, nil).ok(t, nil)
			callTool(t, e.mcpSession(t, tm.member.key), mcp.ToolRevokeAPIKey, map[string]any{"id": id}).ok(t, nil)
			if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: mcp.ToolWhoAmI, Arguments: map[string]any{}}); err == nil {
				t.Fatal("a revoked key still calls tools")
			}
			r := e.mcpPost(secret, whoamiCall, nil)
			if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("%d %q", r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if _, err := e.connectMCP(t, secret); err == nil {
				t.Fatal("a revoked key connects")
			}
		})
		t.Run("a_foreign_Origin_is_403", func(t *testing.T) {
			for _, origin := range []string{"https://evil.example", "null", e.http.URL + ".evil.example", "http://localhost", strings.Replace(e.http.URL, "http:", "https:", 1)} {
				r := e.mcpPost(tm.admin.key, whoamiCall, map[string]string{"Origin": origin})
				if r.Status != http.StatusForbidden {
					t.Fatalf("Origin %s: %d %s", origin, r.Status, r.Body)
				}
			}
			if r := e.mcpPost("", whoamiCall, map[string]string{"Origin": "https://evil.example"}); r.Status != http.StatusForbidden {
				t.Fatalf("without a credential: %d", r.Status)
			}
			if r := e.mcpPost(tm.admin.key, whoamiCall, map[string]string{"Origin": strings.ToUpper(e.http.URL)}); r.Status != http.StatusOK {
				t.Fatalf("the public URL's own origin: %d %s", r.Status, r.Body)
			}
		})
		t.Run("a_batch_is_refused", func(t *testing.T) {
			r := e.mcpPost(tm.member2.key, " \n["+whoamiCall+","+whoamiCall+"]", nil)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "batches are not supported") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
		t.Run("an_oversized_body_is_413", func(t *testing.T) {
			body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_api_key","arguments":{"name":"` + strings.Repeat("x", 2<<20) + `"}}}`
			if r := e.mcpPost(tm.member2.key, body, nil); r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d", r.Status)
			}
		})
		t.Run("GET_is_not_a_stream_here", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/mcp", nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", "Bearer "+tm.member2.key)
			if r := e.do(req); r.Status != http.StatusMethodNotAllowed {
				t.Fatalf("%d", r.Status)
			}
		})
		t.Run("a_burst_from_one_key_is_429_and_other_keys_go_on", func(t *testing.T) {
			_, key := e.createKey(tm.owner, "bursty", nil)
			for i := range 5 {
				if r := e.mcpPost(key, whoamiCall, nil); r.Status != http.StatusOK {
					t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
				}
			}
			r := e.mcpPost(key, whoamiCall, nil)
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("%d %v", r.Status, r.Header)
			}
			if r := e.mcpPost(tm.owner.key, whoamiCall, nil); r.Status != http.StatusOK {
				t.Fatalf("another key: %d", r.Status)
			}
		})
		t.Run("answers_are_not_cacheable_and_carry_a_request_id", func(t *testing.T) {
			r := e.mcpPost(tm.owner.key, whoamiCall, nil)
			if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Request-Id") == "" {
				t.Fatalf("%d %v", r.Status, r.Header)
			}
		})
	})
}

func TestMCPDiscovery(t *testing.T) {
	forEachMCPEnv(t, 0, func(t *testing.T, e *env) {
		base := e.http.URL
		for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			t.Run(path, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				r := e.do(req)
				var md map[string]any
				if err := json.Unmarshal(r.Body, &md); r.Status != http.StatusOK || err != nil {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if md["resource"] != base+"/mcp" || fmt.Sprint(md["authorization_servers"]) != "["+base+"]" ||
					fmt.Sprint(md["bearer_methods_supported"]) != "[header]" || md["resource_name"] == "" ||
					!strings.Contains(fmt.Sprint(md["scopes_supported"]), "keys:read") || !strings.Contains(fmt.Sprint(md["scopes_supported"]), "findings:read") {
					t.Fatalf("%s", r.Body)
				}
				if len(md) != 5 {
					t.Fatalf("unexpected fields: %s", r.Body)
				}
			})
		}
		t.Run("the_authorization_server_lists_the_resource", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+"/.well-known/oauth-authorization-server", nil)
			r := e.do(req)
			if !strings.Contains(string(r.Body), `"protected_resources":["`+base+`/mcp"]`) {
				t.Fatalf("%s", r.Body)
			}
		})
	})
}

func TestMCPLogsHoldNoSecret(t *testing.T) {
	forEachMCPEnv(t, 0, func(t *testing.T, e *env) {
		tm := e.team()
		cs := e.mcpSession(t, tm.owner.key)
		var key mcp.CreatedAPIKey
		callTool(t, cs, mcp.ToolCreateAPIKey, map[string]any{"name": "logged?"}).ok(t, &key)
		var client mcp.CreatedOAuthClient
		callTool(t, cs, mcp.ToolCreateOAuthClient, map[string]any{"name": "logged?"}).ok(t, &client)
		tok := e.token(oauthClient{clientID: client.ClientID, secret: client.ClientSecret}, "")
		callTool(t, e.mcpSession(t, tok), mcp.ToolWhoAmI, nil).ok(t, nil)
		callTool(t, e.mcpSession(t, key.Secret), mcp.ToolCreateAPIKey, map[string]any{"name": "\x00"})
		e.mcpPost(key.Secret+"0", whoamiCall, nil)
		e.mcpPost(key.Secret, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{"x":"`+key.Secret+`"}}}`, nil)
		e.mcpPost(key.Secret, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+key.Secret+`","arguments":{}}}`, nil)
		e.mcpPost(key.Secret, `{"jsonrpc":"2.0","id":1,"method":"`+key.Secret+`"}`, nil)
		e.mcpPost(key.Secret, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":"`+key.Secret, nil)
		logs := e.logs.String()
		if !strings.Contains(logs, `"path":"/mcp"`) {
			t.Fatalf("no access log lines for /mcp: %s", logs)
		}
		for _, s := range []string{key.Secret[4:44], client.ClientSecret[5:45], tm.owner.key[4:44], strings.Split(tok, ".")[1][:40], tok[len(tok)-40:]} {
			if strings.Contains(logs, s) {
				t.Fatalf("the log holds a secret:\n%s", logs)
			}
		}
	})
}
