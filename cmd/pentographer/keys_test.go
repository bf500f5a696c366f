package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

type enrollmentOut struct {
	Organization struct{ ID, Slug, Name string } `json:"organization"`
	User         struct{ ID, Email string }      `json:"user"`
	Role         string                          `json:"role"`
	APIKey       string                          `json:"api_key"`
}

func runJSON(t *testing.T, env map[string]string, args ...string) enrollmentOut {
	t.Helper()
	code, out, errOut := runCmd(t, env, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var e enrollmentOut
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return e
}

// TestKeysCreate issues keys to existing members from the command line and uses
// them through the bearer authenticator, on both stores.
func TestKeysCreate(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dbURL := storetest.URL(t, backend)
			env := map[string]string{"PTG_DATABASE_URL": dbURL}
			owner := runJSON(t, env, "bootstrap", "--org", "Acme", "--email", "owner@acme.test")
			member := runJSON(t, env, "members", "add", "--org", "acme", "--email", "m@acme.test", "--role", "member")
			runJSON(t, env, "bootstrap", "--org", "Other", "--email", "other@acme.test")

			st, err := store.Open(ctx, dbURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			authn := auth.NewService(st, auth.Options{}).Authenticator()

			t.Run("a lost owner key is replaced", func(t *testing.T) {
				code, out, errOut := runCmd(t, env, "keys", "create", "--org", "acme", "--email", "OWNER@acme.test", "--json")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if got, want := jsonKeys(t, out), []string{"api_key", "organization", "role", "user"}; !slices.Equal(got, want) {
					t.Fatalf("keys %v, want %v", got, want)
				}
				var e enrollmentOut
				_ = json.Unmarshal([]byte(out), &e)
				if e.Role != "OWNER" || e.Organization != owner.Organization || e.User != owner.User || e.APIKey == owner.APIKey {
					t.Fatalf("output %s", out)
				}
				p, err := authn.Authenticate(ctx, "Bearer "+e.APIKey)
				if err != nil {
					t.Fatal(err)
				}
				if p.UserID != owner.User.ID || p.OrgID != owner.Organization.ID || p.Role != auth.RoleOwner || !p.Can(auth.ScopeMembersWrite) {
					t.Fatalf("principal %+v", p)
				}
				// The old key keeps working: issuing is not revoking.
				if _, err := authn.Authenticate(ctx, "Bearer "+owner.APIKey); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("a member gets the scopes and expiry asked for", func(t *testing.T) {
				e := runJSON(t, env, "keys", "create", "--org", "acme", "--email", "m@acme.test",
					"--name", "CI deploys", "--scopes", "keys:read, clients:read", "--expires", "90d")
				if e.Role != "MEMBER" || e.User != member.User {
					t.Fatalf("output %+v", e)
				}
				p, err := authn.Authenticate(ctx, "Bearer "+e.APIKey)
				if err != nil {
					t.Fatal(err)
				}
				want := time.Now().AddDate(0, 0, 90)
				if !slices.Equal(p.Scopes, auth.Scopes{"clients:read", "keys:read"}) || p.ExpiresAt.Before(want.Add(-time.Hour)) || p.ExpiresAt.After(want.Add(time.Hour)) {
					t.Fatalf("scopes %v, expiry %v", p.Scopes, p.ExpiresAt)
				}
				keys, _, err := st.ListAPIKeys(ctx, store.CredentialFilter{OrgID: member.Organization.ID, UserID: member.User.ID, Page: store.Page{Limit: 10}})
				if err != nil || !slices.ContainsFunc(keys, func(k store.APIKey) bool { return k.Name == "CI deploys" }) {
					t.Fatalf("keys %+v (%v)", keys, err)
				}
			})

			t.Run("the text output shows the key once and no password", func(t *testing.T) {
				code, out, errOut := runCmd(t, env, "keys", "create", "--org", "acme", "--email", "m@acme.test")
				if code != 0 || !strings.Contains(out, "role:         MEMBER\n") || !apiKeyRE.MatchString(out) ||
					strings.Contains(out, "password") || !strings.Contains(out, "shown only now") {
					t.Fatalf("exit %d: %s %s", code, out, errOut)
				}
			})

			t.Run("the issue is audited as an operator action on the command line", func(t *testing.T) {
				events, _, err := st.ListAuditEvents(ctx, member.Organization.ID, store.Page{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, ev := range events {
					if ev.Action == auth.ActionAPIKeyCreated && ev.ActorUserID == "" && strings.Contains(ev.Detail, `"CI deploys"`) {
						found = ev.ActorCredentialType == string(auth.MethodOperator) && ev.Via == string(auth.ChannelCLI)
					}
				}
				if !found {
					t.Fatalf("no operator api_key.created entry in %+v", events)
				}
			})

			for name, tc := range map[string]struct {
				args []string
				code int
				want string
			}{
				"unknown organization":     {[]string{"--org", "nope", "--email", "owner@acme.test"}, 1, `no organization has the slug "nope"`},
				"unknown person":           {[]string{"--org", "acme", "--email", "ghost@acme.test"}, 1, "no person has the email ghost@acme.test"},
				"not a member":             {[]string{"--org", "acme", "--email", "other@acme.test"}, 1, "other@acme.test is not a member of acme"},
				"scope above the role":     {[]string{"--org", "acme", "--email", "m@acme.test", "--scopes", "members:write"}, 1, "MEMBER role cannot grant"},
				"unknown scope":            {[]string{"--org", "acme", "--email", "m@acme.test", "--scopes", "root"}, 1, `unknown scope "root"`},
				"expiry in the past":       {[]string{"--org", "acme", "--email", "m@acme.test", "--expires", "2001-01-01"}, 1, "future"},
				"unreadable expiry":        {[]string{"--org", "acme", "--email", "m@acme.test", "--expires", "soon"}, 2, `"soon" is not a date`},
				"missing email":            {[]string{"--org", "acme"}, 2, "needs --email"},
				"bad email":                {[]string{"--org", "acme", "--email", "nope"}, 1, "not a valid email"},
				"blank name":               {[]string{"--org", "acme", "--email", "m@acme.test", "--name", " "}, 1, "name must not be empty"},
				"setting of another group": {[]string{"--org", "acme", "--email", "m@acme.test", "--listen", ":1"}, 2, "-listen"},
			} {
				t.Run(name, func(t *testing.T) {
					code, out, errOut := runCmd(t, env, append([]string{"keys", "create"}, tc.args...)...)
					if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
						t.Errorf("exit %d (want %d), stdout %q, stderr %q", code, tc.code, out, errOut)
					}
				})
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2027-01-31":                time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		"2027-01-31T10:00:00+02:00": time.Date(2027, 1, 31, 8, 0, 0, 0, time.UTC),
		"90d":                       now.AddDate(0, 0, 90),
		"36h":                       now.Add(36 * time.Hour),
	} {
		if got, err := parseExpiry(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v (%v), want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "0d", "-3d", "-1h", "31/01/2027", "1.5d"} {
		if _, err := parseExpiry(in, now); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestSigningKeysRevoke withdraws the signing key from the command line: a new
// key takes over, and revoking twice, an unknown kid or no kid are refused.
func TestSigningKeysRevoke(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			env := map[string]string{"PTG_DATABASE_URL": storetest.URL(t, backend)}
			if code, _, errOut := runCmd(t, env, "signing-keys", "rotate"); code != 0 {
				t.Fatalf("rotate: %d %s", code, errOut)
			}
			st, err := store.Open(ctx, env["PTG_DATABASE_URL"], store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			keys, err := st.ListSigningKeys(ctx)
			if err != nil || len(keys) != 1 {
				t.Fatalf("%d keys, %v", len(keys), err)
			}
			kid := keys[0].ID
			code, out, errOut := runCmd(t, env, "signing-keys", "revoke", kid)
			if code != 0 || !strings.Contains(out, "signing key "+kid+" is revoked") || !strings.Contains(out, "new signing key") {
				t.Fatalf("exit %d: %s %s", code, out, errOut)
			}
			keys, _ = st.ListSigningKeys(ctx)
			if len(keys) != 2 || keys[0].ID == kid || keys[0].RetiredAt != nil || keys[1].RevokedAt == nil {
				t.Fatalf("keys after revocation: %+v", keys)
			}
			for _, tc := range []struct {
				args []string
				code int
				want string
			}{
				{[]string{"signing-keys", "revoke", kid}, 1, "revoked already"},
				{[]string{"signing-keys", "revoke", "nope"}, 1, "no signing key"},
				{[]string{"signing-keys", "revoke"}, 2, "needs KID"},
				{[]string{"signing-keys", "revoke", "a", "b"}, 2, "unexpected argument"},
			} {
				code, _, errOut := runCmd(t, env, tc.args...)
				if code != tc.code || !strings.Contains(errOut, tc.want) {
					t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
				}
			}
		})
	}
}

// TestUsersResetPassword prints a one-time link on the public URL for a known
// person and refuses an unknown one.
func TestUsersResetPassword(t *testing.T) {
	env := map[string]string{"PTG_DATABASE_URL": storetest.URL(t, "sqlite"), "PTG_PUBLIC_URL": "https://ptg.example.com"}
	runJSON(t, env, "bootstrap", "--org", "Acme", "--email", "owner@acme.test")
	code, out, errOut := runCmd(t, env, "users", "reset-password", "--email", "Owner@Acme.test")
	if code != 0 || !strings.Contains(out, "https://ptg.example.com/reset-password#ptgr_") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, env, "users", "reset-password", "--email", "nobody@acme.test"); code != 1 || !strings.Contains(errOut, "no person has the email") {
		t.Fatalf("unknown person: exit %d: %s", code, errOut)
	}
}
