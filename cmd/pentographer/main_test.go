package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
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
				boot.Role != "owner" || boot.Password == nil || len(*boot.Password) < 20 || !auth.ValidAPIKey(boot.APIKey) || boot.Organization.ID == "" || boot.User.ID == "" {
				t.Fatalf("bootstrap output %s", out)
			}
			var keys map[string]any
			_ = json.Unmarshal([]byte(out), &keys)
			for _, k := range []string{"organization", "user", "role", "password", "api_key"} {
				if _, ok := keys[k]; !ok {
					t.Fatalf("missing key %q in %s", k, out)
				}
			}

			code, out, errOut = runCmd(t, env, "members", "add", "--org", "acme-corp", "--email", "dev@acme.test", "--role", "admin", "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var added map[string]any
			if err := json.Unmarshal([]byte(out), &added); err != nil || added["role"] != "admin" || added["password"] == nil || !auth.ValidAPIKey(added["api_key"].(string)) {
				t.Fatalf("members add output %s", out)
			}

			// An existing user joining a second organization keeps their password.
			code, out, _ = runCmd(t, env, "bootstrap", "--org", "Second", "--email", "dev@acme.test", "--json")
			if code != 0 || !strings.Contains(out, `"password":null`) {
				t.Fatalf("exit %d: %s", code, out)
			}

			for name, args := range map[string][]string{
				"duplicate member": {"members", "add", "--org", "acme-corp", "--email", "dev@acme.test", "--role", "member"},
				"unknown org":      {"members", "add", "--org", "nope", "--email", "x@acme.test", "--role", "member"},
				"bad role":         {"members", "add", "--org", "acme-corp", "--email", "x@acme.test", "--role", "root"},
				"bad email":        {"members", "add", "--org", "acme-corp", "--email", "not an email", "--role", "member"},
				"duplicate org":    {"bootstrap", "--org", "Acme Corp", "--email", "y@acme.test"},
				"missing --email":  {"bootstrap", "--org", "X"},
				"unknown flag":     {"bootstrap", "--bogus"},
				"unknown command":  {"frobnicate"},
				"unknown subcmd":   {"members", "remove"},
				"stray argument":   {"migrate", "extra"},
			} {
				code, out, errOut := runCmd(t, env, args...)
				if code == 0 || errOut == "" || strings.Contains(out, "ptg_") {
					t.Errorf("%s: exit %d, stdout %q, stderr %q", name, code, out, errOut)
				}
			}
		})
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	code, _, errOut := runCmd(t, nil, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, o := range options {
		if !strings.Contains(errOut, "-"+o.flag) || !strings.Contains(errOut, o.env) {
			t.Errorf("--help does not list %s / %s", o.flag, o.env)
		}
	}
	code, out, _ := runCmd(t, nil, "help")
	if code != 0 || !strings.Contains(out, "members add") {
		t.Fatalf("help: %d %s", code, out)
	}
}

func TestConfigIsValidated(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"relative public URL": {"PTG_PUBLIC_URL": "example.com"},
		"bad log level":       {"PTG_LOG_LEVEL": "loud"},
		"bad timeout":         {"PTG_REQUEST_TIMEOUT": "soon"},
		"bad scope":           {"PTG_SCOPES": `bad"scope`},
		"unknown database":    {"PTG_DATABASE_URL": "mysql://x"},
	} {
		env["PTG_DATABASE_URL"] = firstNonEmpty(env["PTG_DATABASE_URL"], "sqlite:"+t.TempDir()+"/x.db")
		if code, _, errOut := runCmd(t, env, "migrate"); code == 0 {
			t.Errorf("%s accepted: %s", name, errOut)
		}
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestFirstStart runs the server twice on one store: the first start prints the
// owner's credentials, the second prints nothing.
func TestFirstStart(t *testing.T) {
	env := map[string]string{
		"PTG_DATABASE_URL": "sqlite:" + t.TempDir() + "/first.db",
		"PTG_LISTEN":       "127.0.0.1:0",
		"PTG_LOG_FORMAT":   "json",
	}
	start := func() (stdout, stderr string) {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut lockedBuffer
		done := make(chan int)
		go func() { done <- run(ctx, nil, &out, &errOut, func(k string) string { return env[k] }) }()
		addr := regexp.MustCompile(`"addr":"([^"]+)"`)
		deadline := time.Now().Add(20 * time.Second)
		for !addr.MatchString(errOut.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("server did not start: %s", errOut.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		url := "http://" + addr.FindStringSubmatch(errOut.String())[1]
		key := regexp.MustCompile(`ptg_[0-9A-Za-z]{46}`).FindString(out.String())
		if key != "" {
			req, _ := http.NewRequest(http.MethodPost, url+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("the printed key does not work: %v %v", err, res)
			}
			res.Body.Close()
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
		return out.String(), errOut.String()
	}
	out, logs := start()
	if !strings.Contains(out, "password:") || !regexp.MustCompile(`ptg_[0-9A-Za-z]{46}`).MatchString(out) {
		t.Fatalf("first start printed %q", out)
	}
	if strings.Contains(logs, "ptg_") {
		t.Fatal("the key went to the logs")
	}
	out, _ = start()
	if strings.Contains(out, "ptg_") || strings.Contains(out, "password") {
		t.Fatalf("second start printed secrets again: %q", out)
	}
}

func TestSigningKeysRotate(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{"PTG_DATABASE_URL": storetest.URL(t, backend)}
			if code, _, errOut := runCmd(t, env, "bootstrap", "--org", "Acme", "--email", "o@acme.test"); code != 0 {
				t.Fatal(errOut)
			}
			kids := map[string]bool{}
			for range 2 {
				code, out, errOut := runCmd(t, env, "signing-keys", "rotate")
				m := regexp.MustCompile(`new signing key (\S+) \(ES256\)`).FindStringSubmatch(out)
				if code != 0 || m == nil {
					t.Fatalf("exit %d: %s %s", code, out, errOut)
				}
				kids[m[1]] = true
			}
			if len(kids) != 2 {
				t.Fatalf("kids %v", kids)
			}
			if code, _, _ := runCmd(t, env, "signing-keys", "list"); code != 2 {
				t.Fatalf("unknown subcommand exit %d", code)
			}
		})
	}
}
