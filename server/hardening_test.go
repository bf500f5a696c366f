package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
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
				req.Header.Set("Authorization", "Bearer "+key)
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
			promote := fmt.Sprintf(`updateMemberRole(input: {userId: %q, role: ADMIN}) { member { role } }`, admin.userID)
			res, wg := storm(e, admin.key, aliased(10, promote), nil, stormConns, stop)
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
			e.gql(owner.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": member.userID}}).ok(t)
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
