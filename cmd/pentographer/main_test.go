package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/mcp"
	"github.com/pentographer/pentographer/store/storetest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCmd runs the binary's entry point with PTG_* variables from env.
func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut lockedBuffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// jsonKeys returns the sorted top-level keys of a JSON object.
func jsonKeys(t *testing.T, out string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, out)
	}
	return slices.Sorted(maps.Keys(m))
}

func TestEnrollCommandsPrintTheSpecifiedJSON(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"PTG_DATABASE_URL": storetest.URL(t, backend)}
			code, out, errOut := runCmd(t, env, "bootstrap", "--org", "Acme Corp", "--email", "Owner@Acme.test", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var boot struct {
				Organization struct{ ID, Slug, Name string } `json:"organization"`
				User         struct{ ID, Email string }      `json:"user"`
				Role         string                          `json:"role"`
				Password     *string                         `json:"password"`
				APIKey       string                          `json:"api_key"`
			}
			if err := json.Unmarshal([]byte(out), &boot); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if boot.Organization.Slug != "acme-corp" || boot.Organization.Name != "Acme Corp" || boot.User.Email != "owner@acme.test" ||
				boot.Role != "OWNER" || boot.Password == nil || len(*boot.Password) < 20 || !auth.ValidAPIKey(boot.APIKey) || boot.Organization.ID == "" || boot.User.ID == "" {
				t.Fatalf("bootstrap output %s", out)
			}
			if got, want := jsonKeys(t, out), []string{"api_key", "organization", "password", "role", "user"}; !slices.Equal(got, want) {
				t.Fatalf("bootstrap keys %v, want %v", got, want)
			}

			// --role takes any case; the output spells roles as the GraphQL API does.
			code, out, errOut = runCmd(t, env, "members", "add", "--org", "acme-corp", "--email", "dev@acme.test", "--role", "admin", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var added map[string]any
			if err := json.Unmarshal([]byte(out), &added); err != nil || added["role"] != "ADMIN" || added["password"] == nil || !auth.ValidAPIKey(added["api_key"].(string)) {
				t.Fatalf("members add output %s", out)
			}
			code, out, _ = runCmd(t, env, "members", "add", "--org", "acme-corp", "--email", "m@acme.test", "--role", "Member")
			if code != 0 || !strings.Contains(out, "role:         MEMBER\n") {
				t.Fatalf("members add text output: exit %d: %s", code, out)
			}

			// An existing user joining a second organization keeps their password.
			code, out, _ = runCmd(t, env, "bootstrap", "--org", "Second", "--email", "dev@acme.test", "--json")
			if code != 0 || !strings.Contains(out, `"password":null`) {
				t.Fatalf("exit %d: %s", code, out)
			}

			for name, tc := range map[string]struct {
				args []string
				code int
			}{
				"duplicate member": {[]string{"members", "add", "--org", "acme-corp", "--email", "dev@acme.test", "--role", "member"}, 1},
				"unknown org":      {[]string{"members", "add", "--org", "nope", "--email", "x@acme.test", "--role", "member"}, 1},
				"bad role":         {[]string{"members", "add", "--org", "acme-corp", "--email", "x@acme.test", "--role", "root"}, 2},
				"bad email":        {[]string{"members", "add", "--org", "acme-corp", "--email", "not an email", "--role", "member"}, 1},
				"duplicate org":    {[]string{"bootstrap", "--org", "Acme Corp", "--email", "y@acme.test"}, 1},
				"missing --email":  {[]string{"bootstrap", "--org", "X"}, 2},
				"unknown flag":     {[]string{"bootstrap", "--bogus"}, 2},
				"unknown command":  {[]string{"frobnicate"}, 2},
				"unknown subcmd":   {[]string{"members", "remove"}, 2},
				"bare group":       {[]string{"members"}, 2},
				"stray argument":   {[]string{"migrate", "extra"}, 2},
			} {
				code, out, errOut := runCmd(t, env, tc.args...)
				if code != tc.code || errOut == "" || strings.Contains(out, "ptg_") {
					t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q", name, code, tc.code, out, errOut)
				}
			}
		})
	}
}

// TestCommandsTakeOnlyTheirSettings checks each command's flags against the
// options table: serve takes every setting, the others only their groups, and a
// setting a command does not take is an unknown flag there.
func TestCommandsTakeOnlyTheirSettings(t *testing.T) {
	for i := range commands {
		c := &commands[i]
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			inv := newInvocation(c, nil, nil, func(string) string { return "" })
			c.setup(inv)
			help := inv.help()
			for _, o := range options {
				listed := strings.Contains(help, "--"+o.flag+" ") && strings.Contains(help, o.env)
				if o.flag == "" { // a variable only
					listed = strings.Contains(help, "\n  "+o.env+" ")
				}
				if listed != c.takes(o) {
					t.Errorf("--%s / %s listed %v, taken %v", o.flag, o.env, listed, c.takes(o))
				}
				if c.name == "serve" && !c.takes(o) {
					t.Errorf("serve does not take --%s", o.flag)
				}
			}
		})
	}
	if code, _, errOut := runCmd(t, nil, "migrate", "--listen", ":9999"); code != 2 || !strings.Contains(errOut, "-listen") {
		t.Fatalf("migrate --listen: exit %d, %s", code, errOut)
	}
}

func TestConfigIsValidated(t *testing.T) {
	for name, tc := range map[string]struct {
		cmd  string
		env  map[string]string
		want string
	}{
		"relative public URL":  {"serve", map[string]string{"PTG_PUBLIC_URL": "example.com"}, "PTG_PUBLIC_URL"},
		"listen without port":  {"serve", map[string]string{"PTG_LISTEN": "localhost"}, "PTG_LISTEN"},
		"bad log level":        {"migrate", map[string]string{"PTG_LOG_LEVEL": "loud"}, "PTG_LOG_LEVEL"},
		"bad first email":      {"serve", map[string]string{"PTG_BOOTSTRAP_EMAIL": "owner"}, "PTG_BOOTSTRAP_EMAIL"},
		"bad timeout":          {"serve", map[string]string{"PTG_REQUEST_TIMEOUT": "soon"}, "PTG_REQUEST_TIMEOUT"},
		"bad token lifetime":   {"signing-keys rotate", map[string]string{"PTG_TOKEN_TTL": "48h"}, "token"},
		"bad algorithm":        {"signing-keys rotate", map[string]string{"PTG_SIGNING_ALG": "HS256"}, "HS256"},
		"bad scope":            {"bootstrap", map[string]string{"PTG_SCOPES": `bad"scope`}, "PTG_SCOPES"},
		"unknown database":     {"migrate", map[string]string{"PTG_DATABASE_URL": "mysql://x"}, "mysql"},
		"bad forwarded header": {"serve", map[string]string{"PTG_FORWARDED_HEADER": "X-Real-IP"}, "PTG_FORWARDED_HEADER"},
		"bad trusted proxies":  {"serve", map[string]string{"PTG_TRUSTED_PROXIES": "10.0.0.0/33"}, "PTG_TRUSTED_PROXIES"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.env["PTG_DATABASE_URL"] = firstNonEmpty(tc.env["PTG_DATABASE_URL"], "sqlite:"+t.TempDir()+"/x.db")
			tc.env["PTG_LISTEN"] = firstNonEmpty(tc.env["PTG_LISTEN"], "127.0.0.1:0")
			args := strings.Fields(tc.cmd)
			if tc.cmd == "bootstrap" {
				args = append(args, "--org", "X", "--email", "x@x.test")
			}
			code, out, errOut := runCmd(t, tc.env, args...)
			if code == 0 || !strings.Contains(errOut, tc.want) || strings.Contains(out, "ptg_") {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestAFlagWinsOverItsVariable(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PTG_DATABASE_URL": "sqlite:" + dir + "/nope/env.db"}
	if code, out, errOut := runCmd(t, env, "migrate", "--database-url", "sqlite:"+dir+"/flag.db"); code != 0 || out != "migrated sqlite store\n" {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, env, "migrate"); code != 1 || !strings.Contains(errOut, dir+"/nope") {
		t.Fatalf("the variable is not used without the flag: exit %d: %s", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, errOut := runCmd(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "pentographer ") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, _, _ := runCmd(t, nil, "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d", code)
	}
}

func TestStoreErrorsNameThePathAndTheReason(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, map[string]string{"PTG_DATABASE_URL": "sqlite:" + dir + "/missing/p.db"}, "migrate")
	if code != 1 || out != "" || !strings.Contains(errOut, dir+"/missing/p.db") || !strings.Contains(errOut, "does not exist") ||
		strings.Contains(errOut, "out of memory") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

// TestMCPConfig prints each editor's snippet, with the public URL from the
// environment unless --url is given, and refuses what it cannot print.
func TestMCPConfig(t *testing.T) {
	for _, editor := range mcp.Editors() {
		t.Run(editor, func(t *testing.T) {
			env := map[string]string{"PTG_PUBLIC_URL": "https://ptg.example.com"}
			code, out, errOut := runCmd(t, env, "mcp", "config", "--editor", editor)
			want, _ := mcp.EditorConfig(editor, "https://ptg.example.com", "")
			if code != 0 || out != want || !strings.Contains(out, "https://ptg.example.com/mcp") {
				t.Fatalf("exit %d: %s %s", code, out, errOut)
			}
			code, out, _ = runCmd(t, map[string]string{"PTG_LISTEN": ":9999"}, "mcp", "config", "--editor", editor)
			if code != 0 || !strings.Contains(out, "http://localhost:9999/mcp") {
				t.Fatalf("default URL: %s", out)
			}
		})
	}
	for _, args := range [][]string{
		{"mcp", "config"},
		{"mcp", "config", "--editor", "emacs"},
		{"mcp", "config", "--editor", "cursor", "--key", "ptg_notakey"},
		{"mcp", "config", "--editor", "cursor", "--url", "ftp://x"},
	} {
		if code, _, _ := runCmd(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
