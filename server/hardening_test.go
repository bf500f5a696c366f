package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// This file holds the tests of the core-hardening findings: a request's
// authority is re-checked inside every change, so nothing acts after a
// revocation, demotion or removal returns.

// unlimited lifts the creation limits for tests that create in bulk.
func unlimited(o *auth.Options) {
	o.Limits = auth.CreationLimits{PerMinute: 1 << 20, MaxAPIKeys: 1 << 20, MaxOAuthClients: 1 << 20}
}

// stormResult is what a storm's requests got back, per mutation field.
type stormResult struct {
	mu       sync.Mutex
	ok       int            // fields that succeeded
	failures map[string]int // error codes of fields that failed, and HTTP statuses
	requests int
}

func (r *stormResult) add(ok int, failures ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.ok += ok
	for _, f := range failures {
		r.failures[f]++
	}
}

func (r *stormResult) succeeded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok
}

// onlyFailures fails the test if the storm saw a failure other than allowed:
// never a 5xx, INTERNAL or lock error.
func (r *stormResult) onlyFailures(t *testing.T, allowed ...string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for f, n := range r.failures {
		found := false
		for _, a := range allowed {
			found = found || f == a
		}
		if !found {
			t.Errorf("%d failures %q (all: %v)", n, f, r.failures)
		}
	}
}

// storm sends query as key from conns connections of their own, again and again
// until stop is closed, and counts the outcome of every mutation field.
func storm(e *env, key, query string, vars map[string]any, conns int, stop <-chan struct{}) (*stormResult, *sync.WaitGroup) {
	return stormAs(e, func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+key) }, query, vars, conns, stop)
}

// sessionStorm is storm with a session cookie, as the settings page sends.
func sessionStorm(e *env, cookie *http.Cookie, query string, vars map[string]any, conns int, stop <-chan struct{}) (*stormResult, *sync.WaitGroup) {
	return stormAs(e, func(req *http.Request) {
		req.AddCookie(cookie)
		req.Header.Set("Origin", e.srv.cfg.PublicURL)
	}, query, vars, conns, stop)
}

// stormAs is storm with the credential that authenticate puts on each request.
func stormAs(e *env, authenticate func(*http.Request), query string, vars map[string]any, conns int, stop <-chan struct{}) (*stormResult, *sync.WaitGroup) {
	res := &stormResult{failures: map[string]int{}}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	wg := &sync.WaitGroup{}
	for range conns {
		client := &http.Client{Transport: &http.Transport{}} // a connection of its own
		wg.Go(func() {
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				authenticate(req)
				resp, err := client.Do(req)
				if err != nil {
					res.add(0, "transport: "+err.Error())
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					res.add(0, fmt.Sprintf("HTTP %d", resp.StatusCode))
					continue
				}
				var out struct {
					Data   map[string]any
					Errors []gqlError
				}
				_ = json.Unmarshal(raw, &out)
				ok := 0
				for _, v := range out.Data {
					if v != nil {
						ok++
					}
				}
				var codes []string
				for _, ge := range out.Errors {
					c, _ := ge.Extensions["code"].(string)
					codes = append(codes, c)
				}
				res.add(ok, codes...)
			}
		})
	}
	return res, wg
}

// mutations is one request running every field, each under an alias.
func mutations(fields ...string) string {
	var b strings.Builder
	b.WriteString("mutation {")
	for i, f := range fields {
		fmt.Fprintf(&b, " m%d: %s", i, f)
	}
	b.WriteString(" }")
	return b.String()
}

// aliased repeats one mutation field n times under aliases.
func aliased(n int, field string) string { return mutations(slices.Repeat([]string{field}, n)...) }

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// auditEvents lists an organization's audit log, oldest last.
func auditEvents(t *testing.T, st *store.Store, orgID string) []store.AuditEvent {
	t.Helper()
	var all []store.AuditEvent
	p := store.Page{Limit: 100}
	for {
		page, more, err := st.ListAuditEvents(context.Background(), orgID, p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if !more {
			return all
		}
		p.After = page[len(page)-1].ID
	}
}

const stormConns = 3

func TestNothingActsAfterARevocationReturns(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, unlimited)
		owner := e.bootstrap("Acme", "owner@acme.test")
		member := e.addMember(owner.slug, "member@acme.test", auth.RoleMember)
		for round := range 3 {
			keyID, key := e.createKey(member, fmt.Sprintf("storm %d", round), nil)
			stop := make(chan struct{})
			res, wg := storm(e, key, aliased(10, `createApiKey(input: {name: "minted"}) { secret }`), nil, stormConns, stop)
			waitFor(t, "the storm to create keys", func() bool { return res.succeeded() >= 20 })
			e.gql(owner.key, revokeKeyMutation, map[string]any{"id": keyID}).ok(t)
			time.Sleep(150 * time.Millisecond) // the storm goes on after the revocation returned
			close(stop)
			wg.Wait()

			res.onlyFailures(t, "UNAUTHENTICATED", "HTTP 401")
			rec, err := st.APIKeyByID(context.Background(), owner.orgID, keyID)
			if err != nil || rec.RevokedAt == nil {
				t.Fatalf("round %d: the key is not revoked: %v", round, err)
			}
			minted := 0
			for _, ev := range auditEvents(t, st, owner.orgID) {
				if ev.ActorCredentialID == keyID && ev.Action == auth.ActionAPIKeyCreated {
					minted++
					if !ev.At.Before(*rec.RevokedAt) {
						t.Errorf("round %d: a key was created at %s, after the revocation at %s", round, ev.At, rec.RevokedAt)
					}
				}
			}
			if minted != res.ok {
				t.Errorf("round %d: %d creations acknowledged, %d recorded", round, res.ok, minted)
			}
			assertInvalidToken(t, e.gql(key, `{ viewer { role } }`, nil))
		}
	})
}

func TestADemotionCannotBeUndoneByRequestsInFlight(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		owner := e.bootstrap("Acme", "owner@acme.test")
		for round := range 3 {
			admin := e.addMember(owner.slug, fmt.Sprintf("admin%d@acme.test", round), auth.RoleAdmin)
			stop := make(chan struct{})
			// Signed in (no credential may change its creator's role), the
			// admin keeps re-granting themselves ADMIN.
			cookie := sessionCookie(t, e.browser().signIn(admin.name, admin.password))
			promote := fmt.Sprintf(`updateMemberRole(input: {userId: %q, role: ADMIN}) { member { role } }`, admin.userID)
			res, wg := sessionStorm(e, cookie, aliased(10, promote), nil, stormConns, stop)
			waitFor(t, "the storm to run", func() bool { return res.succeeded() >= 20 })
			r := e.gql(owner.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": admin.userID, "role": "MEMBER"}}).ok(t)
			if got := r.str("updateMemberRole", "member", "role"); got != "MEMBER" {
				t.Fatalf("demotion answered %q", got)
			}
			time.Sleep(150 * time.Millisecond)
			close(stop)
			wg.Wait()

			res.onlyFailures(t, "FORBIDDEN")
			m, err := st.MembershipByOrgUser(context.Background(), owner.orgID, admin.userID)
			if err != nil || m.Role != "MEMBER" {
				t.Fatalf("round %d: after the storm the role is %q (%v), want MEMBER", round, m.Role, err)
			}
			if res.failures["FORBIDDEN"] == 0 {
				t.Errorf("round %d: no request was refused after the demotion; the test did not race", round)
			}
		}
	})
}

func TestARemovalLeavesNothingOfThePersonActive(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, unlimited)
		owner := e.bootstrap("Acme", "owner@acme.test")
		ctx := context.Background()
		for round := range 3 {
			member := e.addMember(owner.slug, fmt.Sprintf("leaver%d@acme.test", round), auth.RoleMember)
			mutation := mutations(append(slices.Repeat([]string{`createApiKey(input: {name: "k"}) { secret }`}, 5),
				slices.Repeat([]string{`createOAuthClient(input: {name: "c"}) { clientSecret }`}, 5)...)...)
			stop := make(chan struct{})
			res, wg := storm(e, member.key, mutation, nil, stormConns, stop)
			waitFor(t, "the storm to create credentials", func() bool { return res.succeeded() >= 20 })
			if r := e.gql(owner.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": member.userID}}); r.code() != "" {
				t.Fatalf("%s\n%s", r.Body, e.logs.String())
			}
			time.Sleep(150 * time.Millisecond)
			close(stop)
			wg.Wait()

			res.onlyFailures(t, "UNAUTHENTICATED", "HTTP 401")
			keys, err := st.CountActiveAPIKeys(ctx, owner.orgID, member.userID, time.Now())
			must(t, err)
			clients, err := st.CountActiveOAuthClients(ctx, owner.orgID, member.userID)
			must(t, err)
			if keys != 0 || clients != 0 {
				t.Fatalf("round %d: %d keys and %d clients of the removed person are still active", round, keys, clients)
			}
			var removedAt time.Time
			events := auditEvents(t, st, owner.orgID)
			for _, ev := range events {
				if ev.Action == auth.ActionMemberRemoved && ev.TargetID == member.userID {
					removedAt = ev.At
				}
			}
			for _, ev := range events {
				if ev.ActorUserID == member.userID && !ev.At.Before(removedAt) {
					t.Errorf("round %d: %s at %s, after the removal at %s", round, ev.Action, ev.At, removedAt)
				}
			}
			// Added again, the person starts from nothing.
			back := e.addMember(owner.slug, fmt.Sprintf("leaver%d@acme.test", round), auth.RoleMember)
			keys, _ = st.CountActiveAPIKeys(ctx, owner.orgID, member.userID, time.Now())
			if keys != 1 { // the key members add just issued
				t.Fatalf("round %d: %d active keys after re-adding", round, keys)
			}
			assertInvalidToken(t, e.gql(member.key, `{ viewer { role } }`, nil))
			e.gql(back.key, `{ viewer { role } }`, nil).ok(t)
		}
	})
}

// A person who is OWNER of one organization and MEMBER of another switches
// their session between them while changes made with it are under way: each
// change acts where its request authenticated, with the role it has there, or
// not at all; never in the new organization with the old one's role.
func TestASessionSwitchedMidRequestCarriesNoRoleAcross(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		acme := e.bootstrap("Acme", "owner@acme.test")
		globex := e.bootstrap("Globex", "owner@globex.test")
		e.addMember(acme.slug, "owner@globex.test", auth.RoleMember)
		b := e.browser()
		cookie := sessionCookie(t, b.signIn("owner@globex.test", globex.password))
		choose := func(orgID string) {
			t.Helper()
			if r := b.post("/login/organization", map[string]string{"organizationId": orgID}); r.Status != http.StatusOK {
				t.Fatalf("choosing %s: %d %s", orgID, r.Status, r.Body)
			}
		}
		// Inviting an ADMIN needs ADMIN: allowed in Globex, refused in Acme.
		invite := `inviteMember(input: {email: "new@example.test", role: ADMIN}) { link }`
		for round := range 3 {
			choose(globex.orgID)
			stop := make(chan struct{})
			res, wg := sessionStorm(e, cookie, aliased(10, invite), nil, stormConns, stop)
			waitFor(t, "the storm to invite", func() bool { return res.succeeded() >= 20 })
			choose(acme.orgID)
			time.Sleep(100 * time.Millisecond)
			close(stop)
			wg.Wait()

			res.onlyFailures(t, "UNAUTHENTICATED", "FORBIDDEN")
			for _, ev := range auditEvents(t, st, acme.orgID) {
				if ev.ActorUserID == globex.userID && ev.Action == auth.ActionInvitationCreated {
					t.Fatalf("round %d: a MEMBER of Acme invited an ADMIN there with Globex's role", round)
				}
			}
			if res.failures["FORBIDDEN"] == 0 {
				t.Errorf("round %d: no request ran in Acme; the test did not race", round)
			}
		}
	})
}

// Ending a person's sessions from one organization (a password change) waits
// for what their other sessions, in another organization, have under way:
// nothing they started commits after the change returns.
func TestEndedSessionsActNowhereAfterwards(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, unlimited)
		acme := e.bootstrap("Acme", "owner@acme.test")
		globex := e.bootstrap("Globex", "owner@globex.test")
		e.addMember(acme.slug, "owner@globex.test", auth.RoleMember)
		password := globex.password
		ctx := context.Background()
		for round := range 3 {
			signIn := func(orgID string) (*browser, *http.Cookie) {
				b := e.browser()
				c := sessionCookie(t, b.signIn("owner@globex.test", password))
				if r := b.post("/login/organization", map[string]string{"organizationId": orgID}); r.Status != http.StatusOK {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				return b, c
			}
			here, _ := signIn(acme.orgID)
			_, there := signIn(globex.orgID)
			stop := make(chan struct{})
			res, wg := sessionStorm(e, there, aliased(10, `createApiKey(input: {name: "k"}) { secret }`), nil, stormConns, stop)
			waitFor(t, "the storm to create keys", func() bool { return res.succeeded() >= 20 })
			next := fmt.Sprintf("new password number %d", round)
			here.gql(`mutation($in: ChangePasswordInput!) { changePassword(input: $in) { endedSessions } }`,
				map[string]any{"in": map[string]any{"currentPassword": password, "newPassword": next}}).ok(t)
			password = next
			before, err := st.CountActiveAPIKeys(ctx, globex.orgID, globex.userID, time.Now())
			must(t, err)
			time.Sleep(150 * time.Millisecond)
			close(stop)
			wg.Wait()

			res.onlyFailures(t, "UNAUTHENTICATED", "HTTP 401")
			after, err := st.CountActiveAPIKeys(ctx, globex.orgID, globex.userID, time.Now())
			must(t, err)
			if after != before {
				t.Fatalf("round %d: %d keys were created after the sessions ended", round, after-before)
			}
		}
	})
}

// Someone signing in with the old password while it is changed gets no
// session that outlives the change: the sign-in either committed before it
// (and the change ends its session) or sees the new password and is refused.
func TestASignInWithTheOldPasswordDoesNotOutliveAChange(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnvConfig(t, st, func(c *Config) {
			c.SignInAccountLimit, c.SignInAccountAddressLimit, c.SignInAddressLimit = 1<<20, 1<<20, 1<<20
		})
		owner := e.bootstrap("Acme", "owner@acme.test")
		password := owner.password
		for round := range 5 {
			here := e.browser()
			here.signIn(owner.name, password)
			stop := make(chan struct{})
			var signedIn atomic.Int64
			wg := untilStopped(stormConns, stop, func() {
				if r := e.browser().post("/login", map[string]string{"email": owner.name, "password": password}); r.Status == http.StatusOK {
					signedIn.Add(1)
				}
			})
			waitFor(t, "sign-ins with the old password", func() bool { return signedIn.Load() >= 3 })
			next := fmt.Sprintf("the password of round %d", round)
			here.gql(`mutation($in: ChangePasswordInput!) { changePassword(input: $in) { endedSessions } }`,
				map[string]any{"in": map[string]any{"currentPassword": password, "newPassword": next}}).ok(t)
			time.Sleep(50 * time.Millisecond)
			close(stop)
			wg.Wait()
			sessions, err := st.ListActiveSessions(context.Background(), owner.userID, time.Now())
			must(t, err)
			if len(sessions) != 1 {
				t.Fatalf("round %d: %d sessions active after the change, want only the changer's", round, len(sessions))
			}
			password = next
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheapRefusalsComeFirst(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		member := e.addMember(owner.slug, "member@acme.test", auth.RoleMember)
		t.Run("a_3000_field_query_is_refused_before_validation", func(t *testing.T) {
			r := e.gql(member.key, "# unique 1\n{ "+strings.Repeat("__typename ", 2995)+"}", nil)
			if r.Status != http.StatusUnprocessableEntity || r.code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
		t.Run("eleven_mutations_in_one_request_are_refused_and_change_nothing", func(t *testing.T) {
			r := e.gql(member.key, aliased(11, `createApiKey(input: {name: "x"}) { secret }`), nil)
			if r.Status != http.StatusUnprocessableEntity || r.code() != "GRAPHQL_VALIDATION_FAILED" ||
				!strings.Contains(r.Errors[0].Message, "at most 10 mutations") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			keys, err := e.st.CountActiveAPIKeys(context.Background(), owner.orgID, member.userID, time.Now())
			must(t, err)
			if keys != 1 {
				t.Fatalf("%d keys", keys)
			}
			e.gql(member.key, aliased(10, `createApiKey(input: {name: "x"}) { secret }`), nil).ok(t)
		})
	})
}

func TestCreationIsBounded(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, func(o *auth.Options) {
			o.Limits = auth.CreationLimits{PerMinute: 5, MaxAPIKeys: 3, MaxOAuthClients: 2}
		})
		owner := e.bootstrap("Acme", "owner@acme.test") // bootstrap's key: 1 active, not rate-counted? it is: operator-made keys count as made
		member := e.addMember(owner.slug, "member@acme.test", auth.RoleMember)
		create := func(a actor) response {
			return e.gql(a.key, createKeyMutation, map[string]any{"in": map[string]any{"name": "k"}})
		}
		t.Run("active_keys_are_capped_per_person_and_the_message_names_the_cap", func(t *testing.T) {
			var ids []string
			for range 2 { // the member holds the key members add gave them
				r := create(member).ok(t)
				ids = append(ids, r.str("createApiKey", "apiKey", "id"))
			}
			r := create(member)
			if r.code() != "LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "3 active API keys") {
				t.Fatalf("%s", r.Body)
			}
			e.gql(member.key, revokeKeyMutation, map[string]any{"id": ids[0]}).ok(t)
			create(member).ok(t)
			// Another person has a cap of their own.
			create(owner).ok(t)
		})
		t.Run("creations_are_rate_limited_per_person", func(t *testing.T) {
			other := e.addMember(owner.slug, "other@acme.test", auth.RoleMember)
			for i := range 2 {
				c := e.gql(other.key, createClientMutation, map[string]any{"in": map[string]any{"name": fmt.Sprint("c", i)}}).ok(t)
				id := c.str("createOAuthClient", "client", "id")
				e.gql(other.key, `mutation($id: ID!) { revokeOAuthClient(id: $id) { id } }`, map[string]any{"id": id}).ok(t)
			}
			// 2 clients and the key members add made: 3 so far this minute.
			for range 2 {
				r := create(other).ok(t)
				e.gql(other.key, revokeKeyMutation, map[string]any{"id": r.str("createApiKey", "apiKey", "id")}).ok(t)
			}
			r := create(other)
			if r.code() != "RATE_LIMITED" || !strings.Contains(r.Errors[0].Message, "at most 5 a minute") {
				t.Fatalf("%s", r.Body)
			}
			r = e.gql(other.key, createClientMutation, map[string]any{"in": map[string]any{"name": "one more"}})
			if r.code() != "RATE_LIMITED" {
				t.Fatalf("%s", r.Body)
			}
			e.clock.advance(61 * time.Second)
			defer e.clock.advance(-61 * time.Second)
			create(other).ok(t)
		})
		t.Run("active_clients_are_capped", func(t *testing.T) {
			third := e.addMember(owner.slug, "third@acme.test", auth.RoleMember)
			for i := range 2 {
				e.gql(third.key, createClientMutation, map[string]any{"in": map[string]any{"name": fmt.Sprint("c", i)}}).ok(t)
			}
			r := e.gql(third.key, createClientMutation, map[string]any{"in": map[string]any{"name": "c3"}})
			if r.code() != "LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "2 active OAuth clients") {
				t.Fatalf("%s", r.Body)
			}
		})
	})
}

func TestAnEmptyScopeListMeansNoScopes(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		_, identity := e.createKey(owner, "identity only", map[string]any{"scopes": []string{}})
		r := e.gql(identity, `{ viewer { role scopes user { email } organization { slug } } }`, nil).ok(t)
		if got := fmt.Sprint(r.get("viewer", "scopes")); got != "[]" || r.str("viewer", "role") != "OWNER" {
			t.Fatalf("%s", r.Body)
		}
		for _, q := range []string{`{ viewer { role apiKeys { edges { cursor } } } }`, `{ viewer { role oauthClients { edges { cursor } } } }`, `{ viewer { role organization { members { edges { cursor } } } } }`} {
			if r := e.gql(identity, q, nil); r.code() != "FORBIDDEN" || r.str("viewer", "role") != "OWNER" {
				t.Fatalf("%s: the rest of the data must survive the refused field: %s", q, r.Body)
			}
		}
		if r := e.gql(identity, createKeyMutation, map[string]any{"in": map[string]any{"name": "x"}}); r.code() != "FORBIDDEN" {
			t.Fatalf("%s", r.Body)
		}
		// Omitted scopes keep their meaning: all of the creator's.
		_, all := e.createKey(owner, "all", nil)
		r = e.gql(all, `{ viewer { scopes } }`, nil).ok(t)
		if !strings.Contains(string(r.Body), "members:write") {
			t.Fatalf("%s", r.Body)
		}
		c := e.createClient(owner, "no scopes", []string{})
		tok := e.token(c, "")
		r = e.gql(tok, `{ viewer { scopes } }`, nil).ok(t)
		if got := fmt.Sprint(r.get("viewer", "scopes")); got != "[]" {
			t.Fatalf("%s", r.Body)
		}
	})
}

// formFrom POSTs a form as if from address (behind the test's trusted proxy).
func (e *env) formFrom(address, path string, values url.Values) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", address)
	return e.do(req)
}

func TestFailedClientAuthenticationLocksOutOnlyWhereItFailed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		loopback := netip.MustParsePrefix("127.0.0.0/8")
		e := newEnvConfig(t, st, func(c *Config) { c.TrustedProxies = []netip.Prefix{loopback} })
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "public id", nil)
		bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret[:len(c.secret)-8] + "AAAAAAAA"}}
		good := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}
		for range e.srv.cfg.ClientFailureLimit {
			if r := e.formFrom("203.0.113.5", "/api/oauth/token", bad); r.Status != http.StatusUnauthorized {
				t.Fatalf("%d", r.Status)
			}
		}
		if r := e.formFrom("203.0.113.5", "/api/oauth/token", good); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("the failing address is not limited: %d", r.Status)
		}
		if r := e.formFrom("198.51.100.7", "/api/oauth/token", good); r.Status != http.StatusOK {
			t.Fatalf("the owner is locked out from another address: %d %s", r.Status, r.Body)
		}
		// An address that fails with many ids is limited as a whole.
		for i := range e.srv.cfg.AddressFailureLimit {
			e.formFrom("192.0.2.9", "/api/oauth/token", url.Values{"grant_type": {"client_credentials"},
				"client_id": {fmt.Sprintf("ptgc_%024d", i)}, "client_secret": {c.secret}})
		}
		if r := e.formFrom("192.0.2.9", "/api/oauth/token", good); r.Status != http.StatusTooManyRequests {
			t.Fatalf("address limit: %d", r.Status)
		}
		// The audit log records the forwarded address.
		e.formFrom("198.51.100.7", "/api/oauth/revoke", url.Values{"token": {"x.y.z"}, "client_id": {c.clientID}, "client_secret": {c.secret}})
		tok := e.token(c, "")
		e.formFrom("198.51.100.7", "/api/oauth/revoke", url.Values{"token": {tok}, "client_id": {c.clientID}, "client_secret": {c.secret}})
		events := auditEvents(t, st, owner.orgID)
		if events[0].Action != auth.ActionAccessTokenRevoked || events[0].Address != "198.51.100.7" {
			t.Fatalf("newest audit event %+v", events[0])
		}
	})
	t.Run("forwarding_headers_from_untrusted_peers_are_ignored", func(t *testing.T) {
		e := newEnv(t, storetest.Open(t, "sqlite"))
		owner := e.bootstrap("Acme", "owner@acme.test")
		c := e.createClient(owner, "c", nil)
		bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret[:len(c.secret)-8] + "AAAAAAAA"}}
		for i := range e.srv.cfg.ClientFailureLimit {
			e.formFrom(fmt.Sprintf("203.0.113.%d", i), "/api/oauth/token", bad)
		}
		good := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}
		if r := e.formFrom("198.51.100.7", "/api/oauth/token", good); r.Status != http.StatusTooManyRequests {
			t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", r.Status)
		}
	})
}

// Well-formed keys the store does not have are throttled per address (by /64
// for IPv6); revoked keys retried, and tokens a resource server introspects for
// its callers, never lock anyone out.
func TestUnknownCredentialsAreThrottledWhereTheyComeFrom(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		const limit = 5
		e := newEnvConfig(t, st, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} },
			func(o *auth.Options) { o.FailedLookupLimit = limit })
		owner := e.bootstrap("Acme", "owner@acme.test")
		ask := func(address, key string) int {
			body := strings.NewReader(`{"query":"{ viewer { role } }"}`)
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/graphql", body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("X-Forwarded-For", address)
			return e.do(req).Status
		}
		t.Run("unknown_keys_from_one_address", func(t *testing.T) {
			for range limit {
				if got := ask("203.0.113.1", wellFormedKey()); got != http.StatusUnauthorized {
					t.Fatalf("%d", got)
				}
			}
			if got := ask("203.0.113.1", wellFormedKey()); got != http.StatusTooManyRequests {
				t.Fatalf("past the limit: %d", got)
			}
			if got := ask("203.0.113.2", owner.key); got != http.StatusOK {
				t.Fatalf("a neighbour: %d", got)
			}
		})
		t.Run("ipv6_counts_by_64", func(t *testing.T) {
			for i := range limit {
				ask(fmt.Sprintf("2001:db8:1:2::%x", i+1), wellFormedKey())
			}
			if got := ask("2001:db8:1:2:ffff::1", wellFormedKey()); got != http.StatusTooManyRequests {
				t.Fatalf("another address of the /64: %d", got)
			}
			if got := ask("2001:db8:1:3::1", wellFormedKey()); got != http.StatusUnauthorized {
				t.Fatalf("the next /64: %d", got)
			}
		})
		t.Run("revoked_keys_do_not_count", func(t *testing.T) {
			var revoked []string
			for i := range limit * 2 {
				id, key := e.createKey(owner, fmt.Sprintf("revoked %d", i), nil)
				e.gql(owner.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
				revoked = append(revoked, key)
			}
			for _, key := range revoked {
				if got := ask("198.51.100.1", key); got != http.StatusUnauthorized {
					t.Fatalf("%d", got)
				}
			}
			_, fresh := e.createKey(owner, "fresh", nil)
			if got := ask("198.51.100.1", fresh); got != http.StatusOK {
				t.Fatalf("a working key after retried revoked ones: %d", got)
			}
		})
		t.Run("introspection_does_not_throttle_the_resource_server", func(t *testing.T) {
			rs := e.createClient(owner, "resource server", nil)
			introspect := func(token string) response {
				req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/api/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", "192.0.2.80")
				req.SetBasicAuth(rs.clientID, rs.secret)
				return e.do(req)
			}
			for range limit * 3 {
				if r := introspect(wellFormedKey()); r.Status != http.StatusOK || r.field("active") != false {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			_, key := e.createKey(owner, "a caller's", nil)
			if r := introspect(key); r.Status != http.StatusOK || r.field("active") != true {
				t.Fatalf("a valid key after junk: %d %s", r.Status, r.Body)
			}
		})
	})
}

func TestAddressResolution(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.1 ::1")
	if err != nil {
		t.Fatal(err)
	}
	xff := addressResolver{trusted: trusted, header: HeaderXForwardedFor}
	fwd := addressResolver{trusted: trusted, header: HeaderForwarded}
	cases := []struct {
		name     string
		resolver addressResolver
		peer     string
		headers  map[string]string
		want     string
	}{
		{"no_proxy_headers", xff, "203.0.113.1:5000", nil, "203.0.113.1"},
		{"untrusted_peer_claims_anything", xff, "203.0.113.1:5000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.1"},
		{"trusted_proxy", xff, "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"client_spoofs_a_hop_before_the_proxy", xff, "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two_trusted_proxies", xff, "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.7, 192.168.1.1"}, "198.51.100.7"},
		{"garbage_hop", xff, "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "not-an-ip"}, "10.1.2.3"},
		{"xff_hops_with_ports", xff, "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.7:4711, [2001:db8::9]:80"}, "2001:db8::9"},
		{"only_trusted_hops", xff, "10.0.0.1:1", map[string]string{"X-Forwarded-For": "10.0.0.2"}, "10.0.0.2"},
		// The proxy appends to X-Forwarded-For and passes the client's own
		// Forwarded through: believing it would believe the client.
		{"a_client_forwarded_header_is_ignored", xff, "10.0.0.1:1", map[string]string{"Forwarded": "for=198.51.100.9", "X-Forwarded-For": "203.0.113.50"}, "203.0.113.50"},
		{"forwarded_header", fwd, "[::1]:5000", map[string]string{"Forwarded": `for="[2001:db8::7]:4711";proto=https`}, "2001:db8::7"},
		{"with_forwarded_a_client_xff_is_ignored", fwd, "10.0.0.1:1", map[string]string{"Forwarded": "for=198.51.100.9", "X-Forwarded-For": "1.1.1.1"}, "198.51.100.9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.peer
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			if got := c.resolver.resolve(r); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	for in, want := range map[string]string{"": HeaderXForwardedFor, "x-forwarded-for": HeaderXForwardedFor, "FORWARDED": HeaderForwarded} {
		if got, err := ParseForwardedHeader(in); err != nil || got != want {
			t.Errorf("ParseForwardedHeader(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseForwardedHeader("X-Real-IP"); err == nil {
		t.Error("an unknown header was accepted")
	}
	if _, err := ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Fatal("a bad CIDR was accepted")
	}
}

func TestCredentialShapedTextNeverReachesTheLog(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		_, secret := e.createKey(owner, "k", nil)
		c := e.createClient(owner, "c", nil)
		tok := e.token(c, "")
		for _, leaked := range []string{secret, c.secret, tok} {
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/"+leaked, nil)
			req.Header.Set("X-Request-Id", leaked[:min(len(leaked), 60)])
			req.Header.Set("User-Agent", "agent "+leaked)
			r := e.do(req)
			if r.Status != http.StatusNotFound {
				t.Fatalf("%d", r.Status)
			}
			if strings.Contains(r.Header.Get("X-Request-Id"), leaked[:20]) {
				t.Fatalf("a credential-shaped request id was echoed")
			}
			// An audited change with the credential in its user agent.
			body, _ := json.Marshal(map[string]any{"query": createKeyMutation, "variables": map[string]any{"in": map[string]any{"name": "ua"}}})
			req, _ = http.NewRequest(http.MethodPost, e.http.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+owner.key)
			req.Header.Set("User-Agent", "agent "+leaked)
			req.Header.Set("X-Request-Id", leaked[:min(len(leaked), 60)])
			e.do(req).ok(t)
		}
		logs := e.logs.String()
		for _, leaked := range []string{secret[4:30], c.secret[5:30], tok[10:40], strings.Split(tok, ".")[2][:30]} {
			if strings.Contains(logs, leaked) {
				t.Fatalf("the log holds credential-shaped text %q:\n%s", leaked, logs)
			}
		}
		if !strings.Contains(logs, `"path":"/ptg_[redacted]"`) {
			t.Fatalf("the path was not logged redacted:\n%s", logs)
		}
		for _, ev := range auditEvents(t, e.st, owner.orgID) {
			if strings.Contains(ev.UserAgent, secret[4:30]) || strings.Contains(ev.UserAgent, tok[10:40]) {
				t.Fatalf("the audit log holds a credential: %q", ev.UserAgent)
			}
		}
	})
}
