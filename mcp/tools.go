package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pentographer/pentographer/auth"
)

// The tool names of SPEC §12.
const (
	ToolWhoAmI            = "whoami"
	ToolListAPIKeys       = "list_api_keys"
	ToolListOAuthClients  = "list_oauth_clients"
	ToolCreateAPIKey      = "create_api_key"
	ToolRevokeAPIKey      = "revoke_api_key"
	ToolCreateOAuthClient = "create_oauth_client"
	ToolRevokeOAuthClient = "revoke_oauth_client"
	ToolListMembers       = "list_members"
	ToolReadAuditLog      = "read_audit_log"
)

// tools holds what the tool handlers share.
type tools struct {
	svc *auth.Service
	log *slog.Logger
}

func addTools(s *sdk.Server, t *tools) {
	readOnly := &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)}
	creates := &sdk.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)}
	revokes := &sdk.ToolAnnotations{DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)}
	titled := func(a *sdk.ToolAnnotations, title string) *sdk.ToolAnnotations {
		c := *a
		c.Title = title
		return &c
	}

	add(s, t, &sdk.Tool{
		Name: ToolWhoAmI, Title: "Who am I", Annotations: titled(readOnly, "Who am I"),
		Description: "Shows who this connection acts as: the user, the organization, the role " +
			"(never above the credential creator's current role), how it authenticated and the scopes it holds. Needs no scope.",
	}, t.whoami)
	add(s, t, &sdk.Tool{
		Name: ToolListAPIKeys, Title: "List API keys", Annotations: titled(readOnly, "List API keys"),
		Description: "Lists API keys, newest first: your own, or with all: true every key of the organization " +
			"(OWNER and ADMIN only). Revoked keys appear only with include_revoked: true. Needs the keys:read scope. " +
			"Never shows a key's secret.",
	}, t.listAPIKeys)
	add(s, t, &sdk.Tool{
		Name: ToolListOAuthClients, Title: "List OAuth clients", Annotations: titled(readOnly, "List OAuth clients"),
		Description: "Lists OAuth clients, newest first: your own, or with all: true every client of the organization " +
			"(OWNER and ADMIN only). Revoked clients appear only with include_revoked: true. Needs the clients:read scope. " +
			"Never shows a client secret.",
	}, t.listOAuthClients)
	add(s, t, &sdk.Tool{
		Name: ToolCreateAPIKey, Title: "Create an API key", Annotations: titled(creates, "Create an API key"),
		Description: "Creates an API key (ptg_…) owned by you in your organization. Scopes default to all the scopes " +
			"you hold, and a key never gets a scope you do not hold. The secret is in this result only, once: it cannot be " +
			"read again. Needs the keys:write scope.",
	}, t.createAPIKey)
	add(s, t, &sdk.Tool{
		Name: ToolRevokeAPIKey, Title: "Revoke an API key", Annotations: titled(revokes, "Revoke an API key"),
		Description: "Revokes an API key by id: the next request made with it is refused. A MEMBER may revoke only " +
			"their own keys, OWNER and ADMIN any key of the organization; any other id is not found. Revoking twice " +
			"changes nothing. Needs the keys:write scope.",
	}, t.revokeAPIKey)
	add(s, t, &sdk.Tool{
		Name: ToolCreateOAuthClient, Title: "Create an OAuth client", Annotations: titled(creates, "Create an OAuth client"),
		Description: "Registers an OAuth client owned by you, for machine-to-machine integrations that trade its id " +
			"and secret for access tokens at POST /api/oauth/token. Scopes default to all the scopes you hold. The " +
			"secret is in this result only, once. Needs the clients:write scope.",
	}, t.createOAuthClient)
	add(s, t, &sdk.Tool{
		Name: ToolRevokeOAuthClient, Title: "Revoke an OAuth client", Annotations: titled(revokes, "Revoke an OAuth client"),
		Description: "Revokes an OAuth client by id (not its ptgc_ client id): its secret and every access token it " +
			"holds stop working on the next request. A MEMBER may revoke only their own clients, OWNER and ADMIN any of " +
			"the organization; any other id is not found. Needs the clients:write scope.",
	}, t.revokeOAuthClient)
	add(s, t, &sdk.Tool{
		Name: ToolListMembers, Title: "List members", Annotations: titled(readOnly, "List members"),
		Description: "Lists the organization's members and their roles. OWNER and ADMIN only; needs the members:read scope.",
	}, t.listMembers)
	add(s, t, &sdk.Tool{
		Name: ToolReadAuditLog, Title: "Read the audit log", Annotations: titled(readOnly, "Read the audit log"),
		Description: "Reads the organization's audit log, newest first: credential and membership changes, sign-ins " +
			"and key rotations, with who did them and by which channel. OWNER and ADMIN only; needs the audit:read scope.",
	}, t.readAuditLog)
}

// add registers one tool whose input and output schemas come from its Go types.
// run returns the structured result and a one-line summary for people; the
// result also goes out as JSON text, for clients that read only text.
//
// The handler decodes and validates the arguments itself rather than through the
// SDK's generic AddTool: that one also re-validates every result against the
// output schema and marshals it a second time, which made a whoami call cost
// more than twice its GraphQL twin. The result is built from these very types,
// so it matches the output schema by construction (a test checks it).
func add[In, Out any](s *sdk.Server, t *tools, tool *sdk.Tool, run func(context.Context, In) (Out, string, error)) {
	in := schemaFor[In]()
	tool.InputSchema, tool.OutputSchema = in, schemaFor[Out]()
	args, err := in.Resolve(nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: input schema of %s: %v", tool.Name, err))
	}
	s.AddTool(tool, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		ctx, cancel := bound(ctx)
		defer cancel()
		var input In
		if err := decodeArguments(args, req.Params.Arguments, &input); err != nil {
			return errorResult(err), nil
		}
		out, summary, err := run(ctx, input)
		if err != nil {
			return errorResult(t.fail(ctx, tool.Name, err)), nil
		}
		data, err := json.Marshal(out)
		if err != nil {
			return errorResult(t.fail(ctx, tool.Name, err)), nil
		}
		return &sdk.CallToolResult{
			Content:           []sdk.Content{&sdk.TextContent{Text: summary}, &sdk.TextContent{Text: string(data)}},
			StructuredContent: json.RawMessage(data),
		}, nil
	})
}

// decodeArguments validates raw against the input schema, then decodes it into
// in. Absent arguments are an empty object.
func decodeArguments(schema *jsonschema.Resolved, raw json.RawMessage, in any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the arguments are not valid JSON: %w", err)
	}
	if err := schema.Validate(v); err != nil {
		return fmt.Errorf("invalid arguments: %w", err)
	}
	if err := json.Unmarshal(raw, in); err != nil {
		return fmt.Errorf("invalid arguments: %w", err)
	}
	return nil
}

func errorResult(err error) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: err.Error()}}}
}

// fail turns a tool's error into the text of an isError result. A domain error
// shows its message, which names a missing role or scope, or says "not found";
// anything else is logged with the request id and shown as a generic message.
func (t *tools) fail(ctx context.Context, tool string, err error) error {
	var domain *auth.Error
	if errors.As(err, &domain) {
		return errors.New(domain.Message)
	}
	id := auth.RequestMetaFrom(ctx).RequestID
	if errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
		// The client went away: not a server error.
		t.log.DebugContext(ctx, "client disconnected", "request_id", id, "tool", tool, "error", err)
		return fmt.Errorf("%w (request id %s)", errInternal, id)
	}
	t.log.ErrorContext(ctx, "mcp tool failed", "request_id", id, "tool", tool, "error", err)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the request took too long; try again (request id %s)", id)
	}
	return fmt.Errorf("%w (request id %s)", errInternal, id)
}

// typeSchemas refine the schemas inferred from the tool types.
var typeSchemas = map[reflect.Type]*jsonschema.Schema{
	reflect.TypeFor[time.Time](): {Type: "string", Format: "date-time"},
	reflect.TypeFor[PageSize](): {
		Type: "integer", Minimum: ptr(1.0), Maximum: ptr(float64(auth.MaxPageSize)),
		Description: fmt.Sprintf("page size, 1 to %d (default %d)", auth.MaxPageSize, auth.DefaultPageSize),
	},
	reflect.TypeFor[Role]():   {Type: "string", Enum: []any{"OWNER", "ADMIN", "MEMBER"}},
	reflect.TypeFor[Status](): {Type: "string", Enum: []any{"ACTIVE", "EXPIRED", "REVOKED"}},
}

// schemaFor infers the JSON Schema of T. The tool types are fixed at build time,
// so a failure is a programming error caught by any test that builds the handler.
func schemaFor[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{TypeSchemas: typeSchemas})
	if err != nil {
		panic(fmt.Sprintf("mcp: schema of %T: %v", *new(T), err))
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// ---- whoami ----

func (t *tools) whoami(ctx context.Context, _ struct{}) (WhoAmI, string, error) {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return WhoAmI{}, "", auth.ErrUnauthenticated
	}
	u, err := t.svc.Me(ctx)
	if err != nil {
		return WhoAmI{}, "", err
	}
	o, err := t.svc.MyOrganization(ctx)
	if err != nil {
		return WhoAmI{}, "", err
	}
	out := WhoAmI{
		User: userOf(u), Organization: Organization{ID: o.ID, Slug: o.Slug, Name: o.Name},
		Role: Role(p.Role.String()), AuthMethod: string(p.Method), Scopes: scopes(p.Scopes),
		CredentialID: p.CredentialID, ExpiresAt: optionalTime(p.ExpiresAt),
	}
	how := "an API key"
	if p.Method == auth.MethodAccessToken {
		how = "an access token"
	}
	scopeText := "no scopes"
	if len(p.Scopes) > 0 {
		scopeText = "scopes " + p.Scopes.String()
	}
	return out, fmt.Sprintf("%s acts as %s in %s (%s) with %s holding %s.", u.Email, p.Role, o.Name, o.Slug, how, scopeText), nil
}

// ---- listings ----

func visibility(all bool) (auth.Visibility, string) {
	if all {
		return auth.OrganizationCredentials, "of the organization"
	}
	return auth.OwnCredentials, "of your own"
}

func (in ListCredentialsInput) options() auth.ListOptions {
	return auth.ListOptions{First: in.First.value(), After: in.After, IncludeRevoked: in.IncludeRevoked}
}

func (t *tools) listAPIKeys(ctx context.Context, in ListCredentialsInput) (APIKeyList, string, error) {
	vis, whose := visibility(in.All)
	page, err := t.svc.ListAPIKeys(ctx, vis, in.options())
	if err != nil {
		return APIKeyList{}, "", err
	}
	out := APIKeyList{APIKeys: make([]APIKey, len(page.Items)), HasNextPage: page.HasNextPage}
	for i, k := range page.Items {
		out.APIKeys[i] = apiKeyOf(k)
	}
	if n := len(page.Items); n > 0 {
		out.EndCursor = auth.Cursor(page.Items[n-1].ID)
	}
	return out, listSummary(len(out.APIKeys), "API key", whose, out.HasNextPage), nil
}

func (t *tools) listOAuthClients(ctx context.Context, in ListCredentialsInput) (OAuthClientList, string, error) {
	vis, whose := visibility(in.All)
	page, err := t.svc.ListOAuthClients(ctx, vis, in.options())
	if err != nil {
		return OAuthClientList{}, "", err
	}
	out := OAuthClientList{OAuthClients: make([]OAuthClient, len(page.Items)), HasNextPage: page.HasNextPage}
	for i, c := range page.Items {
		out.OAuthClients[i] = oauthClientOf(c)
	}
	if n := len(page.Items); n > 0 {
		out.EndCursor = auth.Cursor(page.Items[n-1].ID)
	}
	return out, listSummary(len(out.OAuthClients), "OAuth client", whose, out.HasNextPage), nil
}

func (t *tools) listMembers(ctx context.Context, in PageInput) (MemberList, string, error) {
	page, err := t.svc.ListMembers(ctx, auth.ListOptions{First: in.First.value(), After: in.After})
	if err != nil {
		return MemberList{}, "", err
	}
	out := MemberList{Members: make([]Member, len(page.Items)), HasNextPage: page.HasNextPage}
	for i, m := range page.Items {
		out.Members[i] = Member{User: userOf(m.User), Role: Role(m.Role.String()), JoinedAt: m.JoinedAt}
	}
	if n := len(page.Items); n > 0 {
		out.EndCursor = auth.Cursor(page.Items[n-1].ID)
	}
	return out, listSummary(len(out.Members), "member", "of the organization", out.HasNextPage), nil
}

func (t *tools) readAuditLog(ctx context.Context, in PageInput) (AuditLog, string, error) {
	page, err := t.svc.ListAuditLog(ctx, auth.ListOptions{First: in.First.value(), After: in.After})
	if err != nil {
		return AuditLog{}, "", err
	}
	out := AuditLog{Events: make([]AuditEvent, len(page.Items)), HasNextPage: page.HasNextPage}
	for i, e := range page.Items {
		out.Events[i] = AuditEvent{
			ID: e.ID, At: e.At, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
			Actor: AuditActor{
				UserID: e.ActorUserID, CredentialType: e.ActorCredentialType, CredentialID: e.ActorCredentialID,
			},
			Via: string(e.Via), Address: e.Address, UserAgent: e.UserAgent, Detail: e.Detail,
		}
	}
	if n := len(page.Items); n > 0 {
		out.EndCursor = auth.Cursor(page.Items[n-1].ID)
	}
	return out, listSummary(len(out.Events), "audit event", "of the organization, newest first", out.HasNextPage), nil
}

func listSummary(n int, noun, whose string, more bool) string {
	if n != 1 {
		noun += "s"
	}
	s := fmt.Sprintf("%d %s %s.", n, noun, whose)
	if more {
		s += " There are more: pass after = end_cursor for the next page."
	}
	return s
}

// ---- changes ----

func (t *tools) createAPIKey(ctx context.Context, in CreateAPIKeyInput) (CreatedAPIKey, string, error) {
	req := auth.CreateAPIKeyInput{Name: in.Name, Scopes: in.Scopes}
	if in.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339, in.ExpiresAt)
		if err != nil {
			return CreatedAPIKey{}, "", &auth.Error{Kind: auth.KindInvalid, Field: "expires_at",
				Message: "expires_at must be an RFC 3339 time, e.g. 2030-01-31T12:00:00Z"}
		}
		req.ExpiresAt = &exp
	}
	created, err := t.svc.CreateAPIKey(ctx, req)
	if err != nil {
		return CreatedAPIKey{}, "", err
	}
	k := apiKeyOf(created.Key)
	return CreatedAPIKey{APIKey: k, Secret: created.Secret},
		fmt.Sprintf("Created API key %q (%s, id %s). Its secret is in this result only and cannot be shown again: store it now.", k.Name, k.Hint, k.ID), nil
}

func (t *tools) revokeAPIKey(ctx context.Context, in IDInput) (APIKey, string, error) {
	k, err := t.svc.RevokeAPIKey(ctx, in.ID)
	if err != nil {
		return APIKey{}, "", err
	}
	out := apiKeyOf(k)
	return out, fmt.Sprintf("API key %q (%s) is revoked: the next request made with it is refused.", out.Name, out.Hint), nil
}

func (t *tools) createOAuthClient(ctx context.Context, in CreateOAuthClientInput) (CreatedOAuthClient, string, error) {
	created, err := t.svc.CreateOAuthClient(ctx, auth.CreateOAuthClientInput{Name: in.Name, Scopes: in.Scopes})
	if err != nil {
		return CreatedOAuthClient{}, "", err
	}
	c := oauthClientOf(created.Client)
	return CreatedOAuthClient{OAuthClient: c, ClientID: c.ClientID, ClientSecret: created.ClientSecret},
		fmt.Sprintf("Registered OAuth client %q (client id %s, id %s). Its secret is in this result only and cannot be shown again: store it now.", c.Name, c.ClientID, c.ID), nil
}

func (t *tools) revokeOAuthClient(ctx context.Context, in IDInput) (OAuthClient, string, error) {
	c, err := t.svc.RevokeOAuthClient(ctx, in.ID)
	if err != nil {
		return OAuthClient{}, "", err
	}
	out := oauthClientOf(c)
	return out, fmt.Sprintf("OAuth client %q (%s) is revoked: its secret and access tokens are refused from the next request on.", out.Name, out.ClientID), nil
}

// ---- conversions ----

func userOf(u auth.User) User { return User{ID: u.ID, Email: u.Email, Name: u.Name} }

func apiKeyOf(k auth.APIKey) APIKey {
	return APIKey{
		ID: k.ID, Name: k.Name, Hint: k.Hint, Scopes: scopes(k.Scopes), Owner: userOf(k.Owner),
		Status: Status(k.Status), CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
}

func oauthClientOf(c auth.OAuthClient) OAuthClient {
	return OAuthClient{
		ID: c.ID, Name: c.Name, ClientID: c.ClientID, SecretHint: c.SecretHint, Scopes: scopes(c.Scopes), Owner: userOf(c.Owner),
		Status: Status(c.Status), CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, RevokedAt: c.RevokedAt,
	}
}

// scopes never returns nil, so a credential without scopes shows [] and not null.
func scopes(s auth.Scopes) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
