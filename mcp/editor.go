package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pentographer/pentographer/auth"
)

// KeyPlaceholder stands in for the API key in a snippet made without one.
const KeyPlaceholder = "ptg_your_key_here"

// Editors are the names EditorConfig knows, in the order the docs show them.
func Editors() []string { return []string{"claude-code", "claude-desktop", "cursor", "vscode"} }

// EditorConfig returns what one AI editor needs to reach this server's /mcp
// endpoint with an API key: the command line to run (claude-code) or the JSON
// configuration file content (claude-desktop, cursor, vscode), ready to paste.
//
// serverURL is the public URL of the server or of its /mcp endpoint. key is a
// ptg_ API key; without one the snippet holds KeyPlaceholder (vscode instead
// asks for the key when the server first starts, and keeps it in VS Code's
// secret storage).
func EditorConfig(editor, serverURL, key string) (string, error) {
	endpoint, err := mcpEndpoint(serverURL)
	if err != nil {
		return "", err
	}
	if key != "" && !auth.ValidAPIKey(key) {
		return "", fmt.Errorf("the key is not a ptg_ API key")
	}
	bearer := "Bearer " + KeyPlaceholder
	if key != "" {
		bearer = "Bearer " + key
	}
	switch editor {
	case "claude-code":
		// Options go before the name, --header after the URL (it takes several
		// values). Every value is plain ASCII without shell metacharacters
		// (mcpEndpoint and the key format see to it), so double quotes suit
		// POSIX shells, PowerShell and cmd alike.
		return "# Claude Code: run this in a terminal (add --scope user to use the server in every project).\n" +
			fmt.Sprintf("claude mcp add --transport http %s %q --header %q\n", ServerName, endpoint, "Authorization: "+bearer), nil

	case "claude-desktop":
		// claude_desktop_config.json starts only local (stdio) servers, so the
		// mcp-remote bridge forwards to /mcp. The header value comes from env:
		// spaces inside args are mangled on some platforms, and mcp-remote logs
		// its header arguments before it expands variables.
		args := []string{"-y", "mcp-remote", endpoint, "--transport", "http-only", "--header", "Authorization:${PENTOGRAPHER_AUTH_HEADER}"}
		if u, _ := url.Parse(endpoint); u.Scheme == "http" && u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1" {
			args = append(args, "--allow-http")
		}
		return jsonSnippet("", map[string]any{"mcpServers": map[string]any{ServerName: ordered{
			{"command", "npx"},
			{"args", args},
			{"env", map[string]string{"PENTOGRAPHER_AUTH_HEADER": bearer}},
		}}})

	case "cursor":
		return jsonSnippet("", map[string]any{"mcpServers": map[string]any{ServerName: ordered{
			{"url", endpoint},
			{"headers", map[string]string{"Authorization": bearer}},
		}}})

	case "vscode":
		where := "// Run \"MCP: Open User Configuration\" and paste this there: it holds a key, so keep it out of shared .vscode/mcp.json files."
		if key == "" {
			where = "// .vscode/mcp.json or \"MCP: Open User Configuration\"; put your key in place of " + KeyPlaceholder + "."
		}
		return jsonSnippet(where, ordered{
			{"servers", map[string]any{ServerName: ordered{
				{"type", "http"}, {"url", endpoint},
				{"headers", map[string]string{"Authorization": bearer}},
			}}},
		})
	}
	return "", fmt.Errorf("unknown editor %q (want one of %s)", editor, strings.Join(Editors(), ", "))
}

// mcpEndpoint turns the server's public URL, or its /mcp URL, into the /mcp URL.
// It refuses anything but a plain http(s) URL, so that the result can go into a
// shell line or a JSON file without quoting surprises.
func mcpEndpoint(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the URL must be an absolute http or https URL, e.g. https://pentographer.example.com")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("the URL must not hold credentials, a query or a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("the URL's port must be between 1 and 65535")
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if !strings.HasSuffix(u.Path, "/mcp") {
		u.Path += "/mcp"
	}
	s := u.String()
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~:/[]%", c)) {
			return "", fmt.Errorf("the URL holds a character (%q) that snippets cannot carry safely; percent-encode it", c)
		}
	}
	return s, nil
}

// ordered is a JSON object that keeps its keys in the order given.
type ordered []struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.k)
		if err != nil {
			return nil, err
		}
		v, err := marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping (a key or URL never needs it).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonSnippet renders v as indented JSON after an optional comment line (only
// for files the editor reads as JSON with comments).
func jsonSnippet(comment string, v any) (string, error) {
	raw, err := marshal(v)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return "", err
	}
	if comment != "" {
		return comment + "\n" + b.String() + "\n", nil
	}
	return b.String() + "\n", nil
}
