package mcp

import (
	"encoding/json"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// exampleKey is a well-formed ptg_ key (random part and CRC-32 checksum), made
// up for the golden files.
func exampleKey() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	random := "Ex4mpLeKeyF0rTheG0ldenF1lesOnly0123456789"[:40]
	sum := crc32.ChecksumIEEE([]byte(random))
	check := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		check[i] = alphabet[sum%62]
		sum /= 62
	}
	return "ptg_" + random + string(check)
}

func TestEditorConfigMatchesTheGoldenFiles(t *testing.T) {
	for _, editor := range Editors() {
		for _, withKey := range []bool{false, true} {
			name := editor
			key := ""
			if withKey {
				name += "-with-key"
				key = exampleKey()
			}
			t.Run(name, func(t *testing.T) {
				got, err := EditorConfig(editor, "https://pentographer.example.com", key)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "editor-"+name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./mcp -run EditorConfig -update)", err)
				}
				if got != string(want) {
					t.Fatalf("got:\n%s\nwant:\n%s", got, want)
				}
				switch {
				case withKey && (!strings.Contains(got, "Bearer "+key) || strings.Contains(got, KeyPlaceholder)),
					!withKey && !strings.Contains(got, "Bearer "+KeyPlaceholder):
					t.Fatalf("key or placeholder misplaced:\n%s", got)
				}
				if editor == "claude-code" {
					if !strings.HasPrefix(got, "# ") || !strings.Contains(got, "\nclaude mcp add --transport http pentographer \"https://pentographer.example.com/mcp\" --header \"Authorization: Bearer ") {
						t.Fatalf("not a Claude Code command line:\n%s", got)
					}
					return
				}
				body := got
				if editor == "vscode" {
					comment, rest, _ := strings.Cut(got, "\n")
					if !strings.HasPrefix(comment, "// ") {
						t.Fatalf("no comment line:\n%s", got)
					}
					body = rest
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, body)
				}
			})
		}
	}
}

func TestEditorConfigEndpoint(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://pentographer.example.com", "https://pentographer.example.com/mcp"},
		{"https://pentographer.example.com/", "https://pentographer.example.com/mcp"},
		{"https://pentographer.example.com/mcp", "https://pentographer.example.com/mcp"},
		{"https://pentographer.example.com/mcp/", "https://pentographer.example.com/mcp"},
		{"https://example.com/ptg", "https://example.com/ptg/mcp"},
		{" http://localhost:8080 ", "http://localhost:8080/mcp"},
		{"http://[::1]:8080", "http://[::1]:8080/mcp"},
		{"https://example.com/a\"b", "https://example.com/a%22b/mcp"},
		{"https://example.com/`id`", "https://example.com/%60id%60/mcp"},
	} {
		got, err := mcpEndpoint(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "pentographer.example.com", "ftp://example.com", "https://", "https://user:pw@example.com",
		"https://example.com?x=1", "https://example.com/#f", "https://example.com/$(reboot)", "https://example.com/a;b", "https://example.com/a$b", "https://example.com:99999999999", "https://exa mple.com"} {
		if got, err := mcpEndpoint(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestEditorConfigRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ name, editor, url, key string }{
		{"unknown_editor", "emacs", "https://x.example", ""},
		{"editor_names_are_exact", "Cursor", "https://x.example", ""},
		{"no_url", "cursor", "", ""},
		{"a_key_that_is_not_a_ptg_key", "cursor", "https://x.example", "hunter2"},
		{"a_key_with_a_bad_checksum", "cursor", "https://x.example", exampleKey()[:49] + "0"},
		{"an_access_token", "cursor", "https://x.example", "eyJhbGciOiJFUzI1NiJ9.e30.sig"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := EditorConfig(c.editor, c.url, c.key)
			if err == nil || out != "" {
				t.Fatalf("accepted: %q", out)
			}
			if c.key != "" && strings.Contains(err.Error(), c.key) {
				t.Fatal("the error repeats the key")
			}
		})
	}
}

func TestClaudeDesktopBridgeAllowsPlainHTTPOnlyWhenItMust(t *testing.T) {
	for url, want := range map[string]bool{
		"http://localhost:8080":            false,
		"http://127.0.0.1:8080":            false,
		"https://pentographer.example.com": false,
		"http://pentographer.internal":     true,
		"http://[::1]:8080":                true,
	} {
		out, err := EditorConfig("claude-desktop", url, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out, `"--allow-http"`); got != want {
			t.Errorf("%s: --allow-http %v, want %v", url, got, want)
		}
	}
}
