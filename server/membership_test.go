package server

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
)

// TestOwnersRemovingEachOtherKeepOneOwner races two OWNERs removing each other:
// whatever the interleaving, the organization keeps an OWNER (the check and the
// write cannot be split by the other transaction).
func TestOwnersRemovingEachOtherKeepOneOwner(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		for round := range 8 {
			a := e.bootstrap("Race "+string(rune('A'+round)), "a"+string(rune('a'+round))+"@race.test")
			b := e.addMember(a.slug, "b"+string(rune('a'+round))+"@race.test", auth.RoleOwner)
			var wg sync.WaitGroup
			for _, pair := range [][2]actor{{a, b}, {b, a}} {
				wg.Go(func() {
					r := e.gql(pair[0].key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": pair[1].userID}})
					if r.Status >= 500 {
						t.Errorf("status %d", r.Status)
					}
				})
			}
			wg.Wait()
			owners := 0
			for _, x := range []actor{a, b} {
				if r := e.gql(x.key, `{ viewer { role } }`, nil); r.Status == http.StatusOK && r.str("viewer", "role") == "OWNER" {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("round %d: %d owners left", round, owners)
			}
		}
	})
}

// No credential changes the role of the person it acts for (it may have
// leaked); that person, signed in, may.
func TestACredentialCannotChangeItsCreatorsRole(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		e.addMember(tm.owner.slug, "second.owner@acme.test", auth.RoleOwner)
		for _, who := range []actor{tm.owner, tm.admin} {
			r := e.gql(who.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": who.userID, "role": "MEMBER"}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("%s's key changed their own role: %s", who.name, r.Body)
			}
		}
		b := e.browser()
		b.signIn(tm.owner.name, tm.owner.password)
		r := b.gql(updateRoleMutation, map[string]any{"in": map[string]any{"userId": tm.owner.userID, "role": "ADMIN"}}).ok(t)
		if r.str("updateMemberRole", "member", "role") != "ADMIN" {
			t.Fatalf("%s", r.Body)
		}
	})
}

// An invitation carries its inviter's authority: demoted below what could
// issue it, or removed, the inviter's pending links stop working.
func TestInvitationsFollowTheirInvitersAuthority(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		second := e.addMember(tm.owner.slug, "second.owner@acme.test", auth.RoleOwner)
		invite := func(a actor, email, role string) string {
			r := e.gql(a.key, `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { link } }`,
				map[string]any{"in": map[string]any{"email": email, "role": role}}).ok(t)
			_, token, _ := strings.Cut(r.str("inviteMember", "link"), "#")
			return token
		}
		usable := func(token string) bool {
			return e.browser().post("/api/invitation/inspect", map[string]string{"token": token}).Status == http.StatusOK
		}
		setRole := func(a actor, role string) {
			e.gql(tm.owner.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": a.userID, "role": role}}).ok(t)
		}
		ownerLink := invite(second, "future.owner@acme.test", "OWNER")
		adminLink := invite(second, "future.admin@acme.test", "ADMIN")
		setRole(second, "ADMIN") // an ADMIN cannot invite an OWNER
		if usable(ownerLink) || !usable(adminLink) {
			t.Fatalf("after demotion to ADMIN: OWNER link usable %v, ADMIN link usable %v", usable(ownerLink), usable(adminLink))
		}
		setRole(second, "MEMBER")
		if usable(adminLink) {
			t.Fatal("a MEMBER's invitation still works")
		}
		link := invite(tm.admin, "someone@acme.test", "MEMBER")
		e.gql(tm.owner.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.admin.userID}}).ok(t)
		if r := e.browser().post("/api/invitation/accept", map[string]string{"token": link, "name": "Someone", "password": "a long enough password"}); r.Status != http.StatusNotFound {
			t.Fatalf("a removed ADMIN's invitation was accepted: %d %s", r.Status, r.Body)
		}
		pending := e.gql(tm.owner.key, `{ viewer { organization { invitations { edges { node { email } } } } } }`, nil).ok(t)
		if strings.Contains(string(pending.Body), "@acme.test") {
			t.Fatalf("withdrawn invitations are listed: %s", pending.Body)
		}
	})
}

func TestExpiringCredentialsCannotMintLastingOnes(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		soon := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
		_, parent := e.createKey(owner, "short-lived parent", map[string]any{"expiresAt": soon})

		t.Run("a_child_key_inherits_the_parents_expiry", func(t *testing.T) {
			r := e.gql(parent, `mutation { createApiKey(input: {name: "child"}) { apiKey { expiresAt } } }`, nil).ok(t)
			if got := r.str("createApiKey", "apiKey", "expiresAt"); got == "" || !strings.HasPrefix(got, soon[:16]) {
				t.Fatalf("child expiresAt %q, want %s", got, soon)
			}
		})
		t.Run("a_child_key_cannot_outlive_the_parent", func(t *testing.T) {
			later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
			r := e.gql(parent, createKeyMutation, map[string]any{"in": map[string]any{"name": "x", "expiresAt": later}})
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("%s", r.Body)
			}
		})
		t.Run("an_expiring_credential_cannot_create_or_rotate_client_secrets", func(t *testing.T) {
			r := e.gql(parent, createClientMutation, map[string]any{"in": map[string]any{"name": "x"}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("%s", r.Body)
			}
			c := e.createClient(owner, "lasting", nil)
			tok := e.token(c, "")
			if r := e.gql(tok, rotateClientMutation, map[string]any{"id": c.id}); r.code() != "FORBIDDEN" {
				t.Fatalf("an access token rotated a secret: %s", r.Body)
			}
		})
		t.Run("far_future_expiry_is_refused", func(t *testing.T) {
			for _, exp := range []string{"9999-12-31T23:59:59-23:59", "2999-01-01T00:00:00Z"} {
				r := e.gql(owner.key, createKeyMutation, map[string]any{"in": map[string]any{"name": "x", "expiresAt": exp}})
				if r.code() != "BAD_USER_INPUT" {
					t.Fatalf("%s: %s", exp, r.Body)
				}
			}
			e.gql(owner.key, `{ viewer { apiKeys(first: 100) { edges { cursor } } } }`, nil).ok(t)
		})
	})
}

func TestAuditSurvivesHostileRequestMetadata(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/graphql", strings.NewReader(`{"query":"mutation { createApiKey(input: {name: \"ua\"}) { apiKey { id } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+owner.key)
		req.Header.Set("User-Agent", "curl\xff\xfe evil")
		e.do(req).ok(t)
		r := e.gql(owner.key, `{ viewer { organization { auditLog(first: 1) { edges { node { action userAgent } } } } } }`, nil).ok(t)
		if !strings.Contains(string(r.Body), "\"userAgent\":\"curl\uFFFD evil\"") {
			t.Fatalf("%s", r.Body)
		}
	})
}
