package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// browser is a person's browser on the pages: a cookie jar, and requests that
// carry the page's Origin as a browser's fetch does.
type browser struct {
	e      *env
	client *http.Client
	origin string
	// forwardedFor, when set, is the address the test's trusted proxy reports.
	forwardedFor string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, origin: e.srv.cfg.PublicURL}
}

// send makes one request with the browser's cookies.
func (b *browser) send(method, path, contentType string, body []byte, headers map[string]string) response {
	b.e.t.Helper()
	req, _ := http.NewRequest(method, b.e.http.URL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	if b.forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", b.forwardedFor)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{Status: res.StatusCode, Header: res.Header, Body: raw}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &r)
	}
	return r
}

// post sends a JSON body as the pages do.
func (b *browser) post(path string, body any) response {
	raw, _ := json.Marshal(body)
	return b.send(http.MethodPost, path, "application/json", raw, nil)
}

// gql runs a GraphQL request with the session cookie, as the settings page does.
func (b *browser) gql(query string, vars map[string]any) response {
	return b.post("/graphql", map[string]any{"query": query, "variables": vars})
}

// signIn signs in and fails the test unless it worked.
func (b *browser) signIn(email, password string) response {
	b.e.t.Helper()
	r := b.post("/login", map[string]string{"email": email, "password": password})
	if r.Status != http.StatusOK {
		b.e.t.Fatalf("sign-in as %s: %d %s", email, r.Status, r.Body)
	}
	return r
}

// field reads a top-level string field of a JSON answer.
func (r response) field(name string) any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m[name]
}

func sessionCookie(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.Header)
	return nil
}

func TestSignIn(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		t.Run("the_cookie_is_HttpOnly_SameSite_Lax_and_holds_no_known_secret", func(t *testing.T) {
			b := e.browser()
			r := b.signIn("Owner@Acme.test", owner.password)
			c := sessionCookie(t, r)
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" || !strings.HasPrefix(c.Value, "ptgss_") {
				t.Fatalf("cookie %+v", c)
			}
			if r.field("next") != "/settings" {
				t.Fatalf("%s", r.Body)
			}
			v := b.gql(`{ viewer { role authMethod user { email } } }`, nil).ok(t)
			if v.str("viewer", "role") != "OWNER" || v.str("viewer", "authMethod") != "SESSION" {
				t.Fatalf("%s", v.Body)
			}
			s := b.send(http.MethodGet, "/api/session", "", nil, nil)
			if s.Status != 200 || !strings.Contains(string(s.Body), `"email":"owner@acme.test"`) || !strings.Contains(string(s.Body), `"role":"OWNER"`) {
				t.Fatalf("%d %s", s.Status, s.Body)
			}
			// What a person creates is theirs to keep: it does not end with the session.
			k := b.gql(`mutation { createApiKey(input: {name: "from the page"}) { apiKey { expiresAt } } }`, nil).ok(t)
			if k.get("createApiKey", "apiKey", "expiresAt") != nil {
				t.Fatalf("a key made in a session expires: %s", k.Body)
			}
			b.gql(`mutation { createOAuthClient(input: {name: "from the page"}) { clientId } }`, nil).ok(t)
			if strings.Contains(e.logs.String(), c.Value[6:30]) {
				t.Fatal("the session token is in the log")
			}
		})
		t.Run("an_unknown_email_and_a_wrong_password_get_the_same_answer", func(t *testing.T) {
			b := e.browser()
			wrong := b.post("/login", map[string]string{"email": "owner@acme.test", "password": "not the password"})
			unknown := b.post("/login", map[string]string{"email": "nobody@acme.test", "password": "not the password"})
			garbage := b.post("/login", map[string]string{"email": "not an email", "password": "x"})
			for _, r := range []response{wrong, unknown, garbage} {
				if r.Status != http.StatusUnauthorized || string(r.Body) != string(wrong.Body) || r.Header.Get("Set-Cookie") != "" {
					t.Fatalf("%d %s vs %s", r.Status, r.Body, wrong.Body)
				}
			}
		})
		t.Run("sign_ins_are_audited_success_and_failure", func(t *testing.T) {
			var actions []string
			for _, ev := range auditEvents(t, e.st, owner.orgID)[:5] {
				actions = append(actions, ev.Action+"/"+ev.ActorCredentialType+"/"+ev.Via)
			}
			want := "sign_in.failed/PASSWORD/WEB"
			if actions[0] != want || !strings.Contains(strings.Join(actions, ","), "sign_in.succeeded/SESSION/WEB") {
				t.Fatalf("%v", actions)
			}
		})
		t.Run("a_person_in_several_organizations_chooses_one", func(t *testing.T) {
			other := e.bootstrap("Globex", "owner@globex.test")
			e.addMember(other.slug, "owner@acme.test", auth.RoleMember)
			b := e.browser()
			r := b.signIn("owner@acme.test", owner.password)
			if r.field("next") != nil || len(r.field("organizations").([]any)) != 2 {
				t.Fatalf("%s", r.Body)
			}
			if g := b.gql(`{ viewer { role } }`, nil); g.Status != http.StatusUnauthorized {
				t.Fatalf("a session without an organization acted: %d %s", g.Status, g.Body)
			}
			if r := b.post("/login/organization", map[string]string{"organizationId": "01900000-0000-7000-8000-000000000000"}); r.Status != http.StatusNotFound {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			b.post("/login/organization", map[string]string{"organizationId": other.orgID})
			if g := b.gql(`{ viewer { role organization { slug } } }`, nil).ok(t); g.str("viewer", "role") != "MEMBER" {
				t.Fatalf("%s", g.Body)
			}
			b.post("/login/organization", map[string]string{"organizationId": owner.orgID})
			if g := b.gql(`{ viewer { role } }`, nil).ok(t); g.str("viewer", "role") != "OWNER" {
				t.Fatalf("%s", g.Body)
			}
		})
	})
}

func TestFailedSignInsAreLimited(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnvConfig(t, st, func(c *Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
		owner := e.bootstrap("Acme", "owner@acme.test")
		attacker, victim := e.browser(), e.browser()
		attacker.forwardedFor, victim.forwardedFor = "203.0.113.5", "198.51.100.7"
		for range e.srv.cfg.SignInAccountAddressLimit {
			if r := attacker.post("/login", map[string]string{"email": "owner@acme.test", "password": "guess guess guess"}); r.Status != 401 {
				t.Fatalf("%d", r.Status)
			}
		}
		r := attacker.post("/login", map[string]string{"email": "owner@acme.test", "password": owner.password})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || r.field("error") != "too_many_attempts" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		// The owner, elsewhere, still gets in.
		victim.signIn("owner@acme.test", owner.password)
		// One address trying many accounts is limited as a whole.
		sprayer := e.browser()
		sprayer.forwardedFor = "192.0.2.9"
		for i := range e.srv.cfg.SignInAddressLimit {
			sprayer.post("/login", map[string]string{"email": "u" + string(rune('a'+i%26)) + "@acme.test", "password": "x"})
		}
		if r := sprayer.post("/login", map[string]string{"email": "owner@acme.test", "password": owner.password}); r.Status != http.StatusTooManyRequests {
			t.Fatalf("address limit: %d", r.Status)
		}
		// Guesses sent all at once are counted before their passwords are
		// checked: no more get checked than one after the other.
		burst := e.browser()
		burst.forwardedFor = "203.0.113.77"
		var checked, refused atomic.Int64
		var wg sync.WaitGroup
		for range 4 * e.srv.cfg.SignInAccountAddressLimit {
			wg.Go(func() {
				switch r := burst.post("/login", map[string]string{"email": "owner@acme.test", "password": "parallel guess"}); r.Status {
				case http.StatusUnauthorized:
					checked.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("%d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if int(checked.Load()) != e.srv.cfg.SignInAccountAddressLimit {
			t.Fatalf("%d guesses checked in a burst (%d refused), want %d", checked.Load(), refused.Load(), e.srv.cfg.SignInAccountAddressLimit)
		}
		// Signing in successfully uses up nothing.
		for range e.srv.cfg.SignInAccountAddressLimit + 2 {
			victim.signIn("owner@acme.test", owner.password)
		}
		// An invitation for an existing account asks for its password: guesses
		// there are sign-in failures, limited and audited alike.
		globex := e.bootstrap("Globex", "owner@globex.test")
		link := e.gql(globex.key, `mutation { inviteMember(input: {email: "owner@acme.test", role: MEMBER}) { link } }`, nil).ok(t).str("inviteMember", "link")
		_, token, _ := strings.Cut(link, "#")
		guesser := e.browser()
		guesser.forwardedFor = "203.0.113.99"
		before := countAudit(t, st, owner.orgID, auth.ActionSignInFailed)
		for range e.srv.cfg.SignInAccountAddressLimit {
			if r := guesser.post("/api/invitation/accept", map[string]string{"token": token, "password": "guess guess guess"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		if r := guesser.post("/api/invitation/accept", map[string]string{"token": token, "password": owner.password}); r.Status != http.StatusTooManyRequests {
			t.Fatalf("guessing through an invitation is not limited: %d %s", r.Status, r.Body)
		}
		if n := countAudit(t, st, owner.orgID, auth.ActionSignInFailed) - before; n != e.srv.cfg.SignInAccountAddressLimit {
			t.Fatalf("%d failures audited in the account's organization", n)
		}
	})
}

// countAudit counts an organization's audit events with action.
func countAudit(t *testing.T, st *store.Store, orgID, action string) int {
	n := 0
	for _, ev := range auditEvents(t, st, orgID) {
		if ev.Action == action {
			n++
		}
	}
	return n
}

func TestSessionsEnd(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		q := `{ viewer { role } }`
		t.Run("sign_out_ends_the_session_at_once", func(t *testing.T) {
			b := e.browser()
			b.signIn("owner@acme.test", owner.password)
			b.gql(q, nil).ok(t)
			jar := b.client.Jar
			u, _ := url.Parse(e.http.URL)
			token := jar.Cookies(u)[0].Value
			r := b.post("/logout", map[string]any{})
			if r.Status != 200 || sessionCookie(t, r).MaxAge >= 0 {
				t.Fatalf("%d %v", r.Status, r.Header)
			}
			// Even with the old cookie put back, the session is over.
			jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: token, Path: "/"}})
			if r := b.gql(q, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if r := b.send(http.MethodGet, "/api/session", "", nil, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d", r.Status)
			}
		})
		t.Run("an_idle_session_ends", func(t *testing.T) {
			b := e.browser()
			b.signIn("owner@acme.test", owner.password)
			e.clock.advance(13 * time.Hour)
			defer e.clock.advance(-13 * time.Hour)
			if r := b.gql(q, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
		t.Run("a_used_session_ends_at_its_absolute_lifetime", func(t *testing.T) {
			b := e.browser()
			b.signIn("owner@acme.test", owner.password)
			// Uses are recorded in the background within UsesInterval; the
			// fake clock jumps hours in microseconds, so wait for each.
			recorded := func(at time.Time) {
				waitFor(t, "the session's use to be recorded", func() bool {
					ss, err := e.st.ListActiveSessions(context.Background(), owner.userID, at)
					return err == nil && len(ss) > 0 && !ss[0].LastSeenAt.Before(at.Add(-time.Second))
				})
			}
			for range 17 { // used every 11 hours for more than a week
				e.clock.advance(11 * time.Hour)
				defer e.clock.advance(-11 * time.Hour)
				at := e.clock.now()
				if r := b.gql(q, nil); r.Status != 200 {
					break
				}
				recorded(at)
			}
			if r := b.gql(q, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d", r.Status)
			}
		})
		t.Run("sessions_are_listed_and_revocable", func(t *testing.T) {
			first, second := e.browser(), e.browser()
			first.signIn("owner@acme.test", owner.password)
			second.signIn("owner@acme.test", owner.password)
			r := first.gql(`{ viewer { sessions { id current } } }`, nil).ok(t)
			var other string
			for _, s := range r.get("viewer", "sessions").([]any) {
				if m := s.(map[string]any); m["current"] == false && other == "" {
					other = m["id"].(string)
				}
			}
			// The newest other session is second's.
			first.gql(`mutation($id: ID!) { revokeSession(id: $id) { id } }`, map[string]any{"id": other}).ok(t)
			if r := second.gql(q, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("revoked session: %d", r.Status)
			}
			first.gql(q, nil).ok(t)
			if r := e.gql(owner.key, `{ viewer { sessions { id } } }`, nil); r.code() != "FORBIDDEN" {
				t.Fatalf("a key listed sessions: %s", r.Body)
			}
			if r := e.gql(owner.key, `mutation($id: ID!) { revokeSession(id: $id) { id } }`, map[string]any{"id": other}); r.code() != "FORBIDDEN" {
				t.Fatalf("a key ended a session: %s", r.Body)
			}
		})
	})
}

func TestCookieRequestsMustComeFromOurPages(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		b := e.browser()
		b.signIn("owner@acme.test", owner.password)
		create, _ := json.Marshal(map[string]any{"query": createKeyMutation, "variables": map[string]any{"in": map[string]any{"name": "forged"}}})
		count := func() int64 {
			n, err := e.st.CountActiveAPIKeys(context.Background(), owner.orgID, owner.userID, time.Now())
			must(t, err)
			return n
		}
		before := count()
		cases := []struct {
			name, contentType, origin string
			method                    string
		}{
			{"no_Origin", "application/json", "", http.MethodPost},
			{"another_origin", "application/json", "https://evil.example", http.MethodPost},
			{"origin_with_another_port", "application/json", strings.Replace(e.srv.cfg.PublicURL, "127.0.0.1", "localhost", 1), http.MethodPost},
			{"text_plain", "text/plain", e.srv.cfg.PublicURL, http.MethodPost},
			{"form", "application/x-www-form-urlencoded", e.srv.cfg.PublicURL, http.MethodPost},
			{"null_origin", "application/json", "null", http.MethodPost},
		}
		for _, c := range cases {
			t.Run(c.name+"_is_refused", func(t *testing.T) {
				b.origin = c.origin
				r := b.send(c.method, "/graphql", c.contentType, create, nil)
				if r.Status != http.StatusForbidden {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if count() != before {
					t.Fatal("a key was created")
				}
			})
		}
		b.origin = e.srv.cfg.PublicURL
		t.Run("a_cookie_on_a_GET_query_does_not_authenticate", func(t *testing.T) {
			r := b.send(http.MethodGet, "/graphql?query="+url.QueryEscape(`{ viewer { role } }`), "", nil, map[string]string{"Accept": "application/json"})
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
		t.Run("page_endpoints_check_too", func(t *testing.T) {
			b.origin = "https://evil.example"
			if r := b.post("/logout", map[string]any{}); r.Status != http.StatusForbidden {
				t.Fatalf("%d", r.Status)
			}
			if r := b.post("/login", map[string]string{"email": "owner@acme.test", "password": owner.password}); r.Status != http.StatusForbidden {
				t.Fatalf("login CSRF: %d", r.Status)
			}
			b.origin = e.srv.cfg.PublicURL
			b.gql(`{ viewer { role } }`, nil).ok(t)
		})
		t.Run("bearer_requests_are_unaffected", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/graphql", bytes.NewReader(create))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Authorization", "Bearer "+owner.key)
			e.do(req).ok(t)
		})
	})
}

func TestInvitations(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		invite := func(a actor, email, role string) response {
			return e.gql(a.key, `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { link invitation { id email role expiresAt invitedBy { email } } } }`,
				map[string]any{"in": map[string]any{"email": email, "role": role}})
		}
		tokenOf := func(link string) string {
			_, token, _ := strings.Cut(link, "#")
			return token
		}
		t.Run("an_invited_person_joins_and_is_signed_in", func(t *testing.T) {
			r := invite(tm.admin, "New.Person@acme.test", "MEMBER").ok(t)
			link := r.str("inviteMember", "link")
			if !strings.HasPrefix(link, e.srv.cfg.PublicURL+"/invitation#ptgi_") {
				t.Fatalf("link %q", link)
			}
			b := e.browser()
			p := b.post("/api/invitation/inspect", map[string]string{"token": tokenOf(link)})
			if p.Status != 200 || p.field("email") != "new.person@acme.test" || p.field("role") != "MEMBER" || p.field("existingAccount") != false {
				t.Fatalf("%d %s", p.Status, p.Body)
			}
			if r := b.post("/api/invitation/accept", map[string]string{"token": tokenOf(link), "name": "New Person", "password": "short"}); r.Status != 400 || r.field("field") != "password" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			a := b.post("/api/invitation/accept", map[string]string{"token": tokenOf(link), "name": "New Person", "password": "a long enough password"})
			if a.Status != 200 || a.field("next") != "/settings" {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			v := b.gql(`{ viewer { role user { email name } } }`, nil).ok(t)
			if v.str("viewer", "role") != "MEMBER" || v.str("viewer", "user", "name") != "New Person" {
				t.Fatalf("%s", v.Body)
			}
			if r := e.browser().post("/api/invitation/accept", map[string]string{"token": tokenOf(link), "name": "X", "password": "a long enough password"}); r.Status != http.StatusNotFound {
				t.Fatalf("a used link worked again: %d", r.Status)
			}
			e.browser().signIn("new.person@acme.test", "a long enough password")
		})
		t.Run("links_expire_after_seven_days", func(t *testing.T) {
			link := invite(tm.owner, "late@acme.test", "MEMBER").ok(t).str("inviteMember", "link")
			e.clock.advance(7*24*time.Hour + time.Minute)
			defer e.clock.advance(-7*24*time.Hour - time.Minute)
			if r := e.browser().post("/api/invitation/inspect", map[string]string{"token": tokenOf(link)}); r.Status != http.StatusNotFound {
				t.Fatalf("%d", r.Status)
			}
		})
		t.Run("a_withdrawn_or_replaced_invitation_stops_working", func(t *testing.T) {
			first := invite(tm.owner, "twice@acme.test", "MEMBER").ok(t).str("inviteMember", "link")
			second := invite(tm.owner, "twice@acme.test", "ADMIN").ok(t)
			if r := e.browser().post("/api/invitation/inspect", map[string]string{"token": tokenOf(first)}); r.Status != http.StatusNotFound {
				t.Fatalf("the replaced link works: %d", r.Status)
			}
			pending := e.gql(tm.admin.key, `{ viewer { organization { invitations { edges { node { email role } } } } } }`, nil).ok(t)
			if !strings.Contains(string(pending.Body), `"email":"twice@acme.test","role":"ADMIN"`) {
				t.Fatalf("%s", pending.Body)
			}
			e.gql(tm.admin.key, `mutation($id: ID!) { revokeInvitation(id: $id) { id } }`, map[string]any{"id": second.str("inviteMember", "invitation", "id")}).ok(t)
			if r := e.browser().post("/api/invitation/inspect", map[string]string{"token": tokenOf(second.str("inviteMember", "link"))}); r.Status != http.StatusNotFound {
				t.Fatalf("the withdrawn link works: %d", r.Status)
			}
		})
		t.Run("an_existing_account_joins_with_its_own_password", func(t *testing.T) {
			link := invite(tm.owner, "owner@globex.test", "ADMIN").ok(t).str("inviteMember", "link")
			b := e.browser()
			if p := b.post("/api/invitation/inspect", map[string]string{"token": tokenOf(link)}); p.field("existingAccount") != true {
				t.Fatalf("%s", p.Body)
			}
			if r := b.post("/api/invitation/accept", map[string]string{"token": tokenOf(link), "password": "not their password"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			b.post("/api/invitation/accept", map[string]string{"token": tokenOf(link), "password": tm.outsider.password})
			if v := b.gql(`{ viewer { role organization { slug } } }`, nil).ok(t); v.str("viewer", "role") != "ADMIN" || v.str("viewer", "organization", "slug") != tm.owner.slug {
				t.Fatalf("%s", v.Body)
			}
		})
		t.Run("who_may_invite_whom", func(t *testing.T) {
			cases := []struct {
				who  actor
				role string
				code string
			}{
				{tm.member, "MEMBER", "FORBIDDEN"},
				{tm.admin, "OWNER", "FORBIDDEN"},
				{tm.owner, "OWNER", ""},
				{tm.admin, "ADMIN", ""},
			}
			for _, c := range cases {
				r := invite(c.who, "who@acme.test", c.role)
				if r.code() != c.code {
					t.Errorf("%s inviting an %s: %s", c.who.name, c.role, r.Body)
				}
			}
			if r := invite(tm.admin, "member@acme.test", "ADMIN"); r.code() != "BAD_USER_INPUT" {
				t.Fatalf("inviting a member: %s", r.Body)
			}
			if r := invite(tm.outsider, "x@acme.test", "MEMBER"); r.code() != "" {
				t.Fatalf("%s", r.Body) // the outsider invites into their own organization
			}
		})
	})
}

func TestRemovalEndsSessionsAndPeopleMayLeave(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		gone := e.browser()
		gone.signIn("member@acme.test", tm.member.password)
		gone.gql(`{ viewer { role } }`, nil).ok(t)
		e.gql(tm.admin.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.member.userID}}).ok(t)
		if r := gone.gql(`{ viewer { role } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("the removed person's session: %d %s", r.Status, r.Body)
		}
		// A signed-in person may leave; the last OWNER may not.
		leaver := e.browser()
		leaver.signIn("member2@acme.test", tm.member2.password)
		leaver.gql(removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.member2.userID}}).ok(t)
		if r := leaver.gql(`{ viewer { role } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("%d", r.Status)
		}
		owner := e.browser()
		owner.signIn("owner@acme.test", tm.owner.password)
		if r := owner.gql(removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.owner.userID}}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("the last owner left: %s", r.Body)
		}
	})
}

func TestPasswords(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		change := `mutation($in: ChangePasswordInput!) { changePassword(input: $in) { endedSessions } }`
		t.Run("changing_it_ends_the_other_sessions", func(t *testing.T) {
			here, there := e.browser(), e.browser()
			here.signIn("owner@acme.test", owner.password)
			there.signIn("owner@acme.test", owner.password)
			if r := here.gql(change, map[string]any{"in": map[string]any{"currentPassword": "wrong password", "newPassword": "a brand new password"}}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "currentPassword" {
				t.Fatalf("%s", r.Body)
			}
			if r := here.gql(change, map[string]any{"in": map[string]any{"currentPassword": owner.password, "newPassword": "short"}}); r.code() != "BAD_USER_INPUT" {
				t.Fatalf("%s", r.Body)
			}
			r := here.gql(change, map[string]any{"in": map[string]any{"currentPassword": owner.password, "newPassword": "a brand new password"}}).ok(t)
			if r.get("changePassword", "endedSessions") != float64(1) {
				t.Fatalf("%s", r.Body)
			}
			if r := there.gql(`{ viewer { role } }`, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d", r.Status)
			}
			here.gql(`{ viewer { role } }`, nil).ok(t)
			if r := e.browser().post("/login", map[string]string{"email": "owner@acme.test", "password": owner.password}); r.Status != 401 {
				t.Fatal("the old password still works")
			}
			e.browser().signIn("owner@acme.test", "a brand new password")
			if r := e.gql(owner.key, change, map[string]any{"in": map[string]any{"currentPassword": "a brand new password", "newPassword": "yet another password"}}); r.code() != "FORBIDDEN" {
				t.Fatalf("a key changed the password: %s", r.Body)
			}
		})
		t.Run("wrong_current_passwords_are_limited", func(t *testing.T) {
			guesser := e.addMember(owner.slug, "guesser@acme.test", auth.RoleMember)
			b := e.browser()
			b.signIn(guesser.name, guesser.password)
			right := map[string]any{"in": map[string]any{"currentPassword": guesser.password, "newPassword": "a password of my own"}}
			wrong := map[string]any{"in": map[string]any{"currentPassword": "a wrong guess", "newPassword": "whatever it may be"}}
			b.gql(change, right).ok(t) // a right one uses up nothing
			right = map[string]any{"in": map[string]any{"currentPassword": "a password of my own", "newPassword": "not set this time"}}
			for range 10 {
				if r := b.gql(change, wrong); r.code() != "BAD_USER_INPUT" {
					t.Fatalf("%s", r.Body)
				}
			}
			if r := b.gql(change, right); r.code() != "RATE_LIMITED" {
				t.Fatalf("guessing the current password is not limited: %s", r.Body)
			}
			e.browser().signIn(guesser.name, "a password of my own") // unchanged, and sign-in unaffected
		})
		t.Run("a_hash_of_another_cost_is_made_again_at_sign_in", func(t *testing.T) {
			old, err := argon2id.CreateHash("an older hashed password", &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
			must(t, err)
			before, err := e.st.UserByID(context.Background(), owner.userID)
			must(t, err)
			must(t, e.st.UpdateUserPassword(context.Background(), owner.userID, old))
			e.browser().signIn("owner@acme.test", "an older hashed password")
			u, err := e.st.UserByID(context.Background(), owner.userID)
			must(t, err)
			want := fmt.Sprintf("$m=%d,t=%d,p=%d$", testPasswordCost.MemoryKiB, testPasswordCost.Iterations, testPasswordCost.Parallelism)
			if !strings.Contains(u.PasswordHash, want) {
				t.Fatalf("the hash was not made again at the current cost: %s", u.PasswordHash[:30])
			}
			e.browser().signIn("owner@acme.test", "an older hashed password")
			must(t, e.st.UpdateUserPassword(context.Background(), owner.userID, before.PasswordHash))
		})
		t.Run("a_reset_link_sets_it_once_and_ends_every_session", func(t *testing.T) {
			b := e.browser()
			b.signIn("owner@acme.test", "a brand new password")
			link, err := e.svc.IssuePasswordReset(auth.WithChannel(context.Background(), auth.ChannelCLI), "owner@acme.test")
			if err != nil || !strings.HasPrefix(link, e.srv.cfg.PublicURL+"/reset-password#ptgr_") {
				t.Fatalf("%q %v", link, err)
			}
			_, token, _ := strings.Cut(link, "#")
			fresh := e.browser()
			r := fresh.post("/api/password/reset", map[string]string{"token": token, "password": "reset to this one"})
			if r.Status != 200 || r.field("next") != "/settings" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			fresh.gql(`{ viewer { role } }`, nil).ok(t)
			if r := b.gql(`{ viewer { role } }`, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("an old session survived the reset: %d", r.Status)
			}
			if r := e.browser().post("/api/password/reset", map[string]string{"token": token, "password": "and again and again"}); r.Status != http.StatusNotFound {
				t.Fatalf("the link worked twice: %d", r.Status)
			}
			e.browser().signIn("owner@acme.test", "reset to this one")
		})
	})
}

func TestAnswersWhenTheStoreIsDown(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "c", nil)
		if r := e.browser().send(http.MethodGet, "/api/session", "", nil, nil); r.Status != http.StatusUnauthorized || r.field("error_description") != "not signed in" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		must(t, e.st.Close())
		r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, c.clientID, c.secret)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "temporarily_unavailable") {
			t.Fatalf("token endpoint without a store: %d %s", r.Status, r.Body)
		}
		if r := e.gql(owner.key, `{ viewer { role } }`, nil); r.Status != http.StatusServiceUnavailable && r.Status != http.StatusOK {
			t.Fatalf("graphql without a store: %d %s", r.Status, r.Body)
		}
		if r := e.do(mustRequest(t, http.MethodGet, e.http.URL+"/readyz")); r.Status != http.StatusServiceUnavailable {
			t.Fatalf("readyz: %d", r.Status)
		}
	})
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
