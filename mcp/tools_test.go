package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store/storetest"
)

// owner starts the handler over a fresh SQLite store, every request acting as
// the owner of a new organization, and connects the SDK's client to it.
func owner(t *testing.T) *sdk.ClientSession {
	t.Helper()
	ctx := context.Background()
	svc := auth.NewService(storetest.Open(t, "sqlite"), auth.Options{
		PasswordCost: auth.PasswordCost{MemoryKiB: 1024, Iterations: 1, Parallelism: 1},
	})
	en, err := svc.Bootstrap(ctx, "Acme", "owner@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticator().Authenticate(ctx, "Bearer "+en.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(svc, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithRequestMeta(r.Context(), auth.RequestMeta{RequestID: "test", Channel: auth.ChannelMCP})
		h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(ctx, p)))
	}))
	t.Cleanup(srv.Close)
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).
		Connect(ctx, &sdk.StreamableClientTransport{Endpoint: srv.URL, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// TestEveryResultMatchesItsOutputSchema calls each tool successfully and checks
// its structured content against the output schema the server announces (the
// handlers do not re-validate their own results at run time), and that the
// JSON text is the same document.
func TestEveryResultMatchesItsOutputSchema(t *testing.T) {
	cs := owner(t)
	ctx := context.Background()
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*jsonschema.Resolved{}
	for _, tool := range list.Tools {
		raw, _ := json.Marshal(tool.OutputSchema)
		var s jsonschema.Schema
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if schemas[tool.Name], err = s.Resolve(nil); err != nil {
			t.Fatalf("%s: %v", tool.Name, err)
		}
	}
	call := func(name string, args map[string]any) map[string]any {
		t.Helper()
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
		out, _ := res.StructuredContent.(map[string]any)
		if err := schemas[name].Validate(out); err != nil {
			t.Fatalf("%s: the result does not match the output schema: %v", name, err)
		}
		var text map[string]any
		if len(res.Content) != 2 || json.Unmarshal([]byte(res.Content[1].(*sdk.TextContent).Text), &text) != nil {
			t.Fatalf("%s: content %+v", name, res.Content)
		}
		a, _ := json.Marshal(out)
		b, _ := json.Marshal(text)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: the text differs from the structured content", name)
		}
		return out
	}
	call(ToolWhoAmI, nil)
	key := call(ToolCreateAPIKey, map[string]any{"name": "k", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	client := call(ToolCreateOAuthClient, map[string]any{"name": "c", "scopes": []string{"keys:read"}})
	call(ToolListAPIKeys, map[string]any{"all": true, "include_revoked": true, "first": 1})
	call(ToolListOAuthClients, nil)
	call(ToolRevokeAPIKey, map[string]any{"id": key["api_key"].(map[string]any)["id"]})
	call(ToolRevokeOAuthClient, map[string]any{"id": client["oauth_client"].(map[string]any)["id"]})
	call(ToolListAPIKeys, map[string]any{"include_revoked": true})
	call(ToolListMembers, map[string]any{"first": 100})
	events := call(ToolReadAuditLog, nil)["events"].([]any)
	if len(events) < 4 || events[0].(map[string]any)["via"] != "MCP" {
		t.Fatalf("audit events %v", events)
	}
	if len(list.Tools) != 9 {
		t.Fatalf("%d tools", len(list.Tools))
	}
}

func TestFailShowsDomainErrorsAndHidesTheRest(t *testing.T) {
	var logs bytes.Buffer
	tl := &tools{log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := auth.WithRequestMeta(context.Background(), auth.RequestMeta{RequestID: "req-1"})
	for _, c := range []struct {
		err    error
		want   string
		logged bool
	}{
		{&auth.Error{Kind: auth.KindForbidden, Message: "this needs the ADMIN role"}, "this needs the ADMIN role", false},
		{&auth.Error{Kind: auth.KindNotFound, Message: "not found"}, "not found", false},
		{&auth.Error{Kind: auth.Kind(99), Message: "a kind added later keeps its message"}, "a kind added later keeps its message", false},
		{errors.New("store: insert api key: pq: connection refused at 10.0.0.5"), "internal error (request id req-1)", true},
		{context.DeadlineExceeded, "the request took too long; try again (request id req-1)", true},
	} {
		logs.Reset()
		got := tl.fail(ctx, "some_tool", c.err).Error()
		if got != c.want || (logs.Len() > 0) != c.logged {
			t.Errorf("%v: got %q (logged %q)", c.err, got, logs.String())
		}
		if c.logged && !strings.Contains(logs.String(), "req-1") {
			t.Errorf("the log line lacks the request id: %s", logs.String())
		}
	}
}

func TestFailLogsAClientThatWentAwayAtDebug(t *testing.T) {
	var logs bytes.Buffer
	tl := &tools{log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	gone, cancel := context.WithCancel(auth.WithRequestMeta(context.Background(), auth.RequestMeta{RequestID: "req-1"}))
	cancel()
	got := tl.fail(gone, "some_tool", fmt.Errorf("store: list: %w", context.Canceled)).Error()
	if got != "internal error (request id req-1)" || !strings.Contains(logs.String(), `"level":"DEBUG","msg":"client disconnected"`) {
		t.Fatalf("got %q, logged %s", got, logs.String())
	}
}

func TestToolCallsEndWithTheirRequest(t *testing.T) {
	req, cancelReq := context.WithTimeout(context.Background(), time.Hour)
	deadline, _ := req.Deadline()
	// What the SDK hands a tool handler: the request's values, not its end.
	detached := context.WithValue(context.WithoutCancel(req), requestContextKey{}, req)
	ctx, cancel := bound(detached)
	defer cancel()
	if got, ok := ctx.Deadline(); !ok || !got.Equal(deadline) {
		t.Fatalf("deadline %v %v, want %v", got, ok, deadline)
	}
	cancelReq()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the tool call outlived its request")
	}
	if _, cancel := bound(context.Background()); cancel == nil {
		t.Fatal("no cancel func")
	}
}

func TestBatchesAreRefusedBeforeTheSDK(t *testing.T) {
	reached := false
	h := refuseBatches(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	}))
	for _, c := range []struct {
		body  string
		batch bool
	}{
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, true},
		{" \r\n\t[]", true},
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, false},
		{"  {}", false},
		{"", false},
	} {
		reached = false
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(c.body)))
		if c.batch != (rec.Code == http.StatusBadRequest) || c.batch == reached {
			t.Errorf("%q: %d, reached %v", c.body, rec.Code, reached)
		}
		if !c.batch && rec.Body.String() != c.body {
			t.Errorf("%q: the handler read %q", c.body, rec.Body.String())
		}
	}
}
