package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

const (
	createKeyMutation    = `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret apiKey { id name scopes status } } }`
	revokeKeyMutation    = `mutation($id: ID!) { revokeApiKey(id: $id) { id status revokedAt } }`
	updateRoleMutation   = `mutation($in: UpdateMemberRoleInput!) { updateMemberRole(input: $in) { member { role user { id } } } }`
	removeMemberMutation = `mutation($in: RemoveMemberInput!) { removeMember(input: $in) { member { role } } }`
)

// outcome is what one caller should get: "ok", "401", or an extensions.code.
type outcome string

func check(t *testing.T, r response, want outcome) {
	t.Helper()
	switch want {
	case "ok":
		r.ok(t)
	case "401":
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
		}
	default:
		if r.code() != string(want) {
			t.Fatalf("want %s, got %d: %s", want, r.Status, r.Body)
		}
	}
}

// TestAuthorizationMatrix runs every mutation and every role-gated listing as
// {anonymous, MEMBER, ADMIN, OWNER, another organization's OWNER}.
func TestAuthorizationMatrix(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		fresh := 0
		newMember := func() actor {
			fresh++
			return e.addMember(tm.owner.slug, fmt.Sprintf("fresh%d@acme.test", fresh), auth.RoleMember)
		}
		// A caller sends one GraphQL request: with a key, or with the session
		// cookie of a signed-in person, as the settings page does.
		type sender func(query string, vars map[string]any) response
		withKey := func(key string) sender {
			return func(q string, v map[string]any) response { return e.gql(key, q, v) }
		}
		signedIn := func(a actor) sender {
			b := e.browser()
			b.signIn(a.name, a.password)
			return b.gql
		}
		callers := []struct {
			name string
			send sender
		}{
			{"anonymous", withKey("")},
			{"member", withKey(tm.member.key)},
			{"admin", withKey(tm.admin.key)},
			{"owner", withKey(tm.owner.key)},
			{"other_organization", withKey(tm.outsider.key)},
			{"member_session", signedIn(tm.member)},
			{"admin_session", signedIn(tm.admin)},
			{"owner_session", signedIn(tm.owner)},
		}
		invite := func(email string) string {
			r := e.gql(tm.owner.key, `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { invitation { id } } }`,
				map[string]any{"in": map[string]any{"email": email, "role": "MEMBER"}}).ok(t)
			return r.str("inviteMember", "invitation", "id")
		}
		ops := []struct {
			name string
			run  func(send sender) response
			want []outcome // per caller, in the order above
		}{
			{"createApiKey", func(send sender) response {
				return send(createKeyMutation, map[string]any{"in": map[string]any{"name": "k"}})
			}, []outcome{"401", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}},
			{"revokeApiKey_of_another_member", func(send sender) response {
				id, _ := e.createKey(tm.member2, "target", nil)
				return send(revokeKeyMutation, map[string]any{"id": id})
			}, []outcome{"401", "NOT_FOUND", "ok", "ok", "NOT_FOUND", "NOT_FOUND", "ok", "ok"}},
			{"revokeApiKey_of_the_owner", func(send sender) response {
				id, _ := e.createKey(tm.owner, "target", nil)
				return send(revokeKeyMutation, map[string]any{"id": id})
			}, []outcome{"401", "NOT_FOUND", "ok", "ok", "NOT_FOUND", "NOT_FOUND", "ok", "ok"}},
			{"updateMemberRole_to_admin", func(send sender) response {
				m := newMember()
				return send(updateRoleMutation, map[string]any{"in": map[string]any{"userId": m.userID, "role": "ADMIN"}})
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "NOT_FOUND", "FORBIDDEN", "ok", "ok"}},
			{"updateMemberRole_to_owner", func(send sender) response {
				m := newMember()
				return send(updateRoleMutation, map[string]any{"in": map[string]any{"userId": m.userID, "role": "OWNER"}})
			}, []outcome{"401", "FORBIDDEN", "FORBIDDEN", "ok", "NOT_FOUND", "FORBIDDEN", "FORBIDDEN", "ok"}},
			{"removeMember", func(send sender) response {
				m := newMember()
				return send(removeMemberMutation, map[string]any{"in": map[string]any{"userId": m.userID}})
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "NOT_FOUND", "FORBIDDEN", "ok", "ok"}},
			{"createOAuthClient", func(send sender) response {
				return send(createClientMutation, map[string]any{"in": map[string]any{"name": "c"}})
			}, []outcome{"401", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}},
			{"revokeOAuthClient_of_another_member", func(send sender) response {
				c := e.createClient(tm.member2, "target", nil)
				return send(revokeClientMutation, map[string]any{"id": c.id})
			}, []outcome{"401", "NOT_FOUND", "ok", "ok", "NOT_FOUND", "NOT_FOUND", "ok", "ok"}},
			{"rotateOAuthClientSecret_of_another_member", func(send sender) response {
				// A new secret would let the caller act as the client's creator:
				// even ADMIN and OWNER may only revoke another person's client.
				c := e.createClient(tm.member2, "target", nil)
				return send(rotateClientMutation, map[string]any{"id": c.id})
			}, []outcome{"401", "NOT_FOUND", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND", "NOT_FOUND", "FORBIDDEN", "FORBIDDEN"}},
			{"rotateOAuthClientSecret_of_an_owners_client", func(send sender) response {
				c := e.createClient(tm.owner, "target", nil)
				return send(rotateClientMutation, map[string]any{"id": c.id})
			}, []outcome{"401", "NOT_FOUND", "FORBIDDEN", "ok", "NOT_FOUND", "NOT_FOUND", "FORBIDDEN", "ok"}},
			{"revokeOAuthClient_of_the_owner", func(send sender) response {
				c := e.createClient(tm.owner, "target", nil)
				return send(revokeClientMutation, map[string]any{"id": c.id})
			}, []outcome{"401", "NOT_FOUND", "ok", "ok", "NOT_FOUND", "NOT_FOUND", "ok", "ok"}},
			{"organization_oauthClients", func(send sender) response {
				return send(`{ viewer { organization { oauthClients { edges { node { id } } } } } }`, nil)
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "ok", "FORBIDDEN", "ok", "ok"}},
			{"organization_apiKeys", func(send sender) response {
				return send(`{ viewer { organization { apiKeys { edges { node { id } } } } } }`, nil)
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "ok", "FORBIDDEN", "ok", "ok"}},
			{"organization_members", func(send sender) response {
				return send(`{ viewer { organization { members { edges { node { role } } } } } }`, nil)
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "ok", "FORBIDDEN", "ok", "ok"}},
			{"organization_auditLog", func(send sender) response {
				return send(`{ viewer { organization { auditLog { edges { node { action } } } } } }`, nil)
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "ok", "FORBIDDEN", "ok", "ok"}},
		}
		ops = append(ops, []struct {
			name string
			run  func(send sender) response
			want []outcome
		}{
			{"inviteMember", func(send sender) response {
				fresh++
				return send(`mutation($in: InviteMemberInput!) { inviteMember(input: $in) { link } }`,
					map[string]any{"in": map[string]any{"email": fmt.Sprintf("invitee%d@acme.test", fresh), "role": "MEMBER"}})
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "ok", "FORBIDDEN", "ok", "ok"}},
			{"revokeInvitation", func(send sender) response {
				fresh++
				id := invite(fmt.Sprintf("withdrawn%d@acme.test", fresh))
				return send(`mutation($id: ID!) { revokeInvitation(id: $id) { id } }`, map[string]any{"id": id})
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "NOT_FOUND", "FORBIDDEN", "ok", "ok"}},
			{"organization_invitations", func(send sender) response {
				return send(`{ viewer { organization { invitations { edges { node { email } } } } } }`, nil)
			}, []outcome{"401", "FORBIDDEN", "ok", "ok", "ok", "FORBIDDEN", "ok", "ok"}},
			{"changePassword_with_a_wrong_current_password", func(send sender) response {
				return send(`mutation($in: ChangePasswordInput!) { changePassword(input: $in) { endedSessions } }`,
					map[string]any{"in": map[string]any{"currentPassword": "not it at all", "newPassword": "something long enough"}})
			}, []outcome{"401", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "BAD_USER_INPUT", "BAD_USER_INPUT", "BAD_USER_INPUT"}},
			{"revokeSession_of_an_unknown_session", func(send sender) response {
				return send(`mutation($id: ID!) { revokeSession(id: $id) { id } }`, map[string]any{"id": "01900000-0000-7000-8000-000000000000"})
			}, []outcome{"401", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND"}},
			{"viewer_sessions", func(send sender) response {
				return send(`{ viewer { sessions { id current } } }`, nil)
			}, []outcome{"401", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "ok", "ok", "ok"}},
		}...)
		for _, op := range ops {
			for i, c := range callers {
				t.Run(op.name+"/"+c.name, func(t *testing.T) {
					check(t, op.run(c.send), op.want[i])
				})
			}
		}
	})
}

func TestVisibility(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		memberKey, _ := e.createKey(tm.member, "member's", nil)
		ownerKey, _ := e.createKey(tm.owner, "owner's", nil)
		outsiderKey, _ := e.createKey(tm.outsider, "outsider's", nil)
		ids := func(r response, path ...string) map[string]bool {
			out := map[string]bool{}
			edges, _ := r.get(path...).(map[string]any)["edges"].([]any)
			for _, ed := range edges {
				out[ed.(map[string]any)["node"].(map[string]any)["id"].(string)] = true
			}
			return out
		}

		t.Run("member_gets_FORBIDDEN_on_the_organization_list_with_the_rest_intact", func(t *testing.T) {
			r := e.gql(tm.member.key, `{ viewer { role organization { slug apiKeys { edges { node { id } } } } apiKeys { edges { node { id } } } } }`, nil)
			if r.Status != http.StatusOK || r.code() != "FORBIDDEN" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			if got := fmt.Sprint(r.Errors[0].Path); got != "[viewer organization apiKeys]" {
				t.Fatalf("error path %s", got)
			}
			if r.str("viewer", "role") != "MEMBER" || r.str("viewer", "organization", "slug") != "acme" {
				t.Fatalf("data not intact: %s", r.Body)
			}
			if v, present := r.get("viewer", "organization").(map[string]any)["apiKeys"]; !present || v != nil {
				t.Fatalf("apiKeys = %v, want null", v)
			}
			own := ids(r, "viewer", "apiKeys")
			if !own[memberKey] || own[ownerKey] || own[outsiderKey] {
				t.Fatalf("member's own list: %v", own)
			}
		})

		for _, a := range []actor{tm.admin, tm.owner} {
			t.Run(strings.Split(a.name, "@")[0]+"_sees_every_key_of_the_organization_and_no_other", func(t *testing.T) {
				r := e.gql(a.key, `{ viewer { organization { apiKeys(first: 100) { edges { node { id owner { email } } } } } apiKeys { edges { node { id } } } } }`, nil).ok(t)
				all := ids(r, "viewer", "organization", "apiKeys")
				if !all[memberKey] || !all[ownerKey] || all[outsiderKey] {
					t.Fatalf("organization list: %v", all)
				}
				own := ids(r, "viewer", "apiKeys")
				if own[memberKey] {
					t.Fatal("viewer.apiKeys shows another member's key")
				}
			})
		}

		t.Run("another_organization_gets_NOT_FOUND_and_the_key_keeps_working", func(t *testing.T) {
			r := e.gql(tm.outsider.key, revokeKeyMutation, map[string]any{"id": memberKey})
			if r.code() != "NOT_FOUND" {
				t.Fatalf("got %s", r.Body)
			}
			e.gql(tm.member.key, `{ viewer { role } }`, nil).ok(t)
		})

		t.Run("NOT_FOUND_is_the_same_for_a_missing_and_a_hidden_key", func(t *testing.T) {
			hidden := e.gql(tm.member.key, revokeKeyMutation, map[string]any{"id": ownerKey})
			missing := e.gql(tm.member.key, revokeKeyMutation, map[string]any{"id": "01900000-0000-7000-8000-000000000000"})
			garbage := e.gql(tm.member.key, revokeKeyMutation, map[string]any{"id": "'; DROP TABLE api_keys; --"})
			for _, r := range []response{hidden, missing, garbage} {
				if r.code() != "NOT_FOUND" || r.Errors[0].Message != hidden.Errors[0].Message {
					t.Fatalf("got %s", r.Body)
				}
			}
		})

		t.Run("revoked_keys_are_listed_only_with_includeRevoked", func(t *testing.T) {
			id, _ := e.createKey(tm.member, "to revoke", nil)
			e.gql(tm.member.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
			r := e.gql(tm.member.key, `{ viewer { apiKeys { edges { node { id } } } } }`, nil).ok(t)
			if ids(r, "viewer", "apiKeys")[id] {
				t.Fatal("revoked key listed by default")
			}
			r = e.gql(tm.member.key, `{ viewer { apiKeys(includeRevoked: true) { edges { node { id status } } } } }`, nil).ok(t)
			if !ids(r, "viewer", "apiKeys")[id] {
				t.Fatal("revoked key missing with includeRevoked")
			}
		})
	})
}

func TestPagination(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		var created []string
		for i := range 5 {
			id, _ := e.createKey(owner, fmt.Sprint("key ", i), nil)
			created = append(created, id)
		}
		for _, order := range []string{"CREATED_AT_DESC", "CREATED_AT_ASC"} {
			t.Run(order, func(t *testing.T) {
				var got []string
				after := any(nil)
				for page := 0; page < 10; page++ {
					r := e.gql(owner.key, `query($after: String, $order: CredentialOrder) { viewer { apiKeys(first: 2, after: $after, orderBy: $order) {
						edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } } }`,
						map[string]any{"after": after, "order": order}).ok(t)
					conn := r.get("viewer", "apiKeys").(map[string]any)
					for _, ed := range conn["edges"].([]any) {
						node := ed.(map[string]any)["node"].(map[string]any)
						if strings.HasPrefix(node["name"].(string), "key ") {
							got = append(got, node["id"].(string))
						}
					}
					info := conn["pageInfo"].(map[string]any)
					if !info["hasNextPage"].(bool) {
						break
					}
					after = info["endCursor"]
				}
				want := created
				if order == "CREATED_AT_DESC" {
					want = []string{created[4], created[3], created[2], created[1], created[0]}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("got %v, want %v", got, want)
				}
			})
		}
		t.Run("sort_arguments_are_enums_not_strings", func(t *testing.T) {
			r := e.gql(owner.key, `{ viewer { apiKeys(orderBy: "id; DROP TABLE api_keys") { edges { cursor } } } }`, nil)
			if r.Status == http.StatusOK || len(r.Errors) == 0 {
				t.Fatalf("string accepted as order: %d %s", r.Status, r.Body)
			}
			e.gql(owner.key, `{ viewer { apiKeys { edges { cursor } } } }`, nil).ok(t)
		})
		for _, bad := range []map[string]any{{"first": 0}, {"first": 101}, {"first": -1}, {"after": "not-a-cursor"}, {"after": "djE6Jyk7IERST1A="}} {
			t.Run(fmt.Sprintf("bad_page_arguments_%v", bad), func(t *testing.T) {
				r := e.gql(owner.key, `query($first: Int, $after: String) { viewer { apiKeys(first: $first, after: $after) { edges { cursor } } } }`, bad)
				if r.code() != "BAD_USER_INPUT" {
					t.Fatalf("got %s", r.Body)
				}
			})
		}
	})
}

func TestCreateAPIKeyInput(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		countKeys := func() int {
			r := e.gql(owner.key, `{ viewer { apiKeys(first: 100, includeRevoked: true) { edges { cursor } } } }`, nil).ok(t)
			return len(r.get("viewer", "apiKeys").(map[string]any)["edges"].([]any))
		}
		past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		bad := []struct {
			name  string
			input map[string]any
		}{
			{"empty_name", map[string]any{"name": ""}},
			{"blank_name", map[string]any{"name": " \t "}},
			{"overlong_name", map[string]any{"name": strings.Repeat("x", 101)}},
			{"NUL_in_name", map[string]any{"name": "a\x00b"}},
			{"control_character_in_name", map[string]any{"name": "a\x1bb"}},
			{"newline_in_name", map[string]any{"name": "a\nb"}},
			{"bidi_override_in_name", map[string]any{"name": "abc\u202Eexe.txt"}},
			{"zero_width_space_in_name", map[string]any{"name": "adm\u200Bin key"}},
			{"unknown_scope", map[string]any{"name": "k", "scopes": []string{"keys:read", "root:all"}}},
			{"past_expiry", map[string]any{"name": "k", "expiresAt": past}},
			{"unparsable_expiry", map[string]any{"name": "k", "expiresAt": "tomorrow"}},
		}
		for _, c := range bad {
			t.Run(c.name+"_is_BAD_USER_INPUT_and_stores_nothing", func(t *testing.T) {
				before := countKeys()
				r := e.gql(owner.key, createKeyMutation, map[string]any{"in": c.input})
				if r.code() != "BAD_USER_INPUT" {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
				if r.get("createApiKey") != nil {
					t.Fatal("payload returned with an error")
				}
				if after := countKeys(); after != before {
					t.Fatalf("%d keys stored", after-before)
				}
			})
		}
		verbatim := []string{`Robert'); DROP TABLE api_keys;--`, `<img src=x onerror=alert(1)>`, `"quoted" \ back\slash`, "🔑 deploy key 👩‍💻", strings.Repeat("ü", 100)}
		for _, name := range verbatim {
			t.Run("stored_verbatim_"+fmt.Sprintf("%.12q", name), func(t *testing.T) {
				r := e.gql(owner.key, createKeyMutation, map[string]any{"in": map[string]any{"name": name}}).ok(t)
				id := r.str("createApiKey", "apiKey", "id")
				list := e.gql(owner.key, `{ viewer { apiKeys(first: 100) { edges { node { id name } } } } }`, nil).ok(t)
				for _, ed := range list.get("viewer", "apiKeys").(map[string]any)["edges"].([]any) {
					node := ed.(map[string]any)["node"].(map[string]any)
					if node["id"] == id {
						if node["name"] != name {
							t.Fatalf("name %q stored as %q", name, node["name"])
						}
						return
					}
				}
				t.Fatal("key not listed")
			})
		}
		t.Run("scopes_default_to_all_the_caller_holds", func(t *testing.T) {
			r := e.gql(owner.key, createKeyMutation, map[string]any{"in": map[string]any{"name": "all"}}).ok(t)
			got := fmt.Sprint(r.get("createApiKey", "apiKey", "scopes"))
			if got != "[audit:read clients:read clients:write findings:read keys:read keys:write members:read members:write]" {
				t.Fatalf("scopes %s", got)
			}
		})
	})
}

func TestScopesAndRoleCeiling(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		_, readOnly := e.createKey(tm.owner, "read only", map[string]any{"scopes": []string{"keys:read"}})

		t.Run("a_key_without_keys_write_cannot_create_keys", func(t *testing.T) {
			r := e.gql(readOnly, createKeyMutation, map[string]any{"in": map[string]any{"name": "x"}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("got %s", r.Body)
			}
		})
		t.Run("a_key_without_audit_read_gets_FORBIDDEN_on_the_audit_log", func(t *testing.T) {
			r := e.gql(readOnly, `{ viewer { organization { auditLog { edges { cursor } } } } }`, nil)
			if r.code() != "FORBIDDEN" {
				t.Fatalf("got %s", r.Body)
			}
		})
		t.Run("identity_needs_no_scope", func(t *testing.T) {
			_, none := e.createKey(tm.owner, "findings only", map[string]any{"scopes": []string{"findings:read"}})
			r := e.gql(none, `{ viewer { role scopes user { email } organization { slug } } }`, nil).ok(t)
			if r.str("viewer", "user", "email") != "owner@acme.test" {
				t.Fatalf("got %s", r.Body)
			}
		})
		t.Run("a_key_cannot_mint_a_scope_it_does_not_hold", func(t *testing.T) {
			_, writer := e.createKey(tm.owner, "writer", map[string]any{"scopes": []string{"keys:write"}})
			r := e.gql(writer, createKeyMutation, map[string]any{"in": map[string]any{"name": "x", "scopes": []string{"audit:read"}}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("got %s", r.Body)
			}
			r = e.gql(writer, createKeyMutation, map[string]any{"in": map[string]any{"name": "x"}}).ok(t)
			if got := fmt.Sprint(r.get("createApiKey", "apiKey", "scopes")); got != "[keys:write]" {
				t.Fatalf("default scopes of a narrowed key: %s", got)
			}
		})
		t.Run("a_member_cannot_grant_an_admin_scope", func(t *testing.T) {
			r := e.gql(tm.member.key, createKeyMutation, map[string]any{"in": map[string]any{"name": "x", "scopes": []string{"members:read"}}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("got %s", r.Body)
			}
		})
		t.Run("a_demoted_admins_key_acts_as_a_member_at_once", func(t *testing.T) {
			admin := e.addMember(tm.owner.slug, "demoted@acme.test", auth.RoleAdmin)
			e.gql(admin.key, `{ viewer { organization { members { edges { cursor } } } } }`, nil).ok(t)
			e.gql(tm.owner.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": admin.userID, "role": "MEMBER"}}).ok(t)
			r := e.gql(admin.key, `{ viewer { role scopes organization { members { edges { cursor } } } } }`, nil)
			if r.code() != "FORBIDDEN" || r.str("viewer", "role") != "MEMBER" {
				t.Fatalf("got %s", r.Body)
			}
			if strings.Contains(fmt.Sprint(r.get("viewer", "scopes")), "members:read") {
				t.Fatalf("demoted key still holds members:read: %s", r.Body)
			}
		})
		t.Run("a_removed_members_keys_stop_at_once", func(t *testing.T) {
			leaver := e.addMember(tm.owner.slug, "leaver@acme.test", auth.RoleMember)
			e.gql(leaver.key, `{ viewer { role } }`, nil).ok(t)
			e.gql(tm.admin.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": leaver.userID}}).ok(t)
			assertInvalidToken(t, e.gql(leaver.key, `{ viewer { role } }`, nil))
		})
		t.Run("the_last_owner_cannot_be_demoted", func(t *testing.T) {
			b := e.browser()
			b.signIn(tm.owner.name, tm.owner.password)
			r := b.gql(updateRoleMutation, map[string]any{"in": map[string]any{"userId": tm.owner.userID, "role": "ADMIN"}})
			if r.code() != "BAD_USER_INPUT" {
				t.Fatalf("got %s", r.Body)
			}
			e.gql(tm.owner.key, `{ viewer { role } }`, nil).ok(t)
		})
		t.Run("no_credential_removes_its_own_creator_whatever_the_role", func(t *testing.T) {
			leaver := e.addMember(tm.owner.slug, "self@acme.test", auth.RoleMember)
			for _, a := range []actor{leaver, tm.admin, tm.owner} {
				r := e.gql(a.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": a.userID}})
				if r.code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "cannot remove the person who created it") {
					t.Fatalf("%s: %s", a.name, r.Body)
				}
				e.gql(a.key, `{ viewer { role } }`, nil).ok(t)
			}
			_, readOnly := e.createKey(tm.owner, "read only owner key", map[string]any{"scopes": []string{"keys:read"}})
			r := e.gql(readOnly, removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.owner.userID}})
			if r.code() != "FORBIDDEN" {
				t.Fatalf("%s", r.Body)
			}
			e.gql(leaver.key, `{ viewer { role } }`, nil).ok(t)
		})
		t.Run("removal_revokes_the_members_credentials_for_good", func(t *testing.T) {
			gone := e.addMember(tm.owner.slug, "gone@acme.test", auth.RoleMember)
			c := e.createClient(gone, "gone's client", nil)
			e.gql(tm.admin.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": gone.userID}}).ok(t)
			back, err := e.svc.AddMember(context.Background(), tm.owner.slug, "gone@acme.test", auth.RoleMember)
			if err != nil {
				t.Fatal(err)
			}
			assertInvalidToken(t, e.gql(gone.key, `{ viewer { role } }`, nil))
			if r := e.form("/api/oauth/token", url.Values{"grant_type": {"client_credentials"}}, c.clientID, c.secret); r.Status != 401 {
				t.Fatalf("old client after re-adding: %d", r.Status)
			}
			e.gql(back.APIKey, `{ viewer { role } }`, nil).ok(t)
			r := e.gql(tm.owner.key, `{ viewer { organization { apiKeys(includeRevoked: true, first: 100) { edges { node { owner { email } status } } } } } }`, nil).ok(t)
			if strings.Count(string(r.Body), `{"owner":{"email":"gone@acme.test"},"status":"REVOKED"}`) != 1 {
				t.Fatalf("%s", r.Body)
			}
		})
	})
}

func TestRevocationIsImmediate(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		id, key := e.createKey(owner, "hot key", nil)

		// Hammer the key from several goroutines while it is revoked; every request
		// that starts after revokeApiKey returned must be refused.
		var revokedAt atomic.Int64
		stop := make(chan struct{})
		var lateSuccesses atomic.Int32
		wg := untilStopped(4, stop, func() {
			started := time.Now().UnixNano()
			r := e.gql(key, `{ viewer { role } }`, nil)
			if r.Status == http.StatusOK && revokedAt.Load() != 0 && started > revokedAt.Load() {
				lateSuccesses.Add(1)
			}
			if r.Status >= 500 {
				t.Errorf("status %d during revocation", r.Status)
			}
		})
		time.Sleep(50 * time.Millisecond)
		e.gql(owner.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
		revokedAt.Store(time.Now().UnixNano())
		r := e.gql(key, `{ viewer { role } }`, nil)
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
		assertInvalidToken(t, r)
		if n := lateSuccesses.Load(); n > 0 {
			t.Fatalf("%d requests started after the revocation succeeded", n)
		}

		t.Run("unknown_and_revoked_answer_identically", func(t *testing.T) {
			revoked := e.gql(key, `{ viewer { role } }`, nil)
			fake := e.gql(validLookingKey(), `{ viewer { role } }`, nil)
			if string(revoked.Body) != string(fake.Body) || revoked.Header.Get("WWW-Authenticate") != fake.Header.Get("WWW-Authenticate") {
				t.Fatalf("revoked %s vs unknown %s", revoked.Body, fake.Body)
			}
		})
		t.Run("an_expired_key_is_refused_the_same_way", func(t *testing.T) {
			exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			_, short := e.createKey(owner, "short-lived", map[string]any{"expiresAt": exp})
			e.gql(short, `{ viewer { role } }`, nil).ok(t)
			e.clock.advance(2 * time.Hour)
			defer e.clock.advance(-2 * time.Hour)
			assertInvalidToken(t, e.gql(short, `{ viewer { role } }`, nil))
			r := e.gql(owner.key, `{ viewer { apiKeys { edges { node { name status } } } } }`, nil).ok(t)
			if !strings.Contains(string(r.Body), `{"name":"short-lived","status":"EXPIRED"}`) {
				t.Fatalf("status not EXPIRED: %s", r.Body)
			}
		})
	})
}

// validLookingKey returns a well-formed key (SPEC §3, checksum included) that was
// never issued.
func validLookingKey() string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 40)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = base62[int(b[i])%62]
	}
	sum := crc32.ChecksumIEEE(b)
	var tail [6]byte
	for i := 5; i >= 0; i-- {
		tail[i] = base62[sum%62]
		sum /= 62
	}
	return "ptg_" + string(b) + string(tail[:])
}

func TestConcurrentCreates(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		var wg sync.WaitGroup
		keys := make(chan string, 20)
		for i := range 20 {
			wg.Go(func() {
				r := e.gql(owner.key, createKeyMutation, map[string]any{"in": map[string]any{"name": fmt.Sprint("parallel ", i)}})
				if r.Status != http.StatusOK || len(r.Errors) > 0 {
					t.Errorf("create #%d: %d %s", i, r.Status, r.Body)
					return
				}
				keys <- r.str("createApiKey", "secret")
			})
		}
		wg.Wait()
		close(keys)
		seen := map[string]bool{}
		for k := range keys {
			if seen[k] {
				t.Fatal("duplicate secret")
			}
			seen[k] = true
			e.gql(k, `{ viewer { role } }`, nil).ok(t)
		}
		if len(seen) != 20 {
			t.Fatalf("%d keys", len(seen))
		}
	})
}

func TestManyConcurrentWritersNeverSurfaceA5xx(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				r := e.gql(owner.key, createKeyMutation, map[string]any{"in": map[string]any{"name": fmt.Sprint("writer ", i)}})
				if r.Status >= 500 || len(r.Errors) > 0 {
					t.Errorf("writer %d: %d %s\n%s", i, r.Status, r.Body, e.logs.String())
				}
				if strings.Contains(string(r.Body), "locked") {
					t.Errorf("writer %d saw a lock error: %s", i, r.Body)
				}
			})
		}
		wg.Wait()
		if strings.Contains(e.logs.String(), "database is locked") {
			t.Fatal("the log shows a database-is-locked error")
		}
	})
}

func TestSecretIsShownOnlyOnce(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		r := e.gql(owner.key, createKeyMutation, map[string]any{"in": map[string]any{"name": "once"}}).ok(t)
		secret := r.str("createApiKey", "secret")
		id := r.str("createApiKey", "apiKey", "id")
		if !auth.ValidAPIKey(secret) {
			t.Fatalf("secret %q is not a ptg_ key", secret)
		}
		// Use it, fail with it, revoke it: nothing afterwards may hold it.
		e.gql(secret, `{ viewer { role } }`, nil).ok(t)
		e.gql(secret+"x", `{ viewer { role } }`, nil)
		e.gql(secret, `{ viewer { nope } }`, nil)
		e.gql(owner.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
		e.gql(secret, `{ viewer { role } }`, nil)
		responses := []response{
			e.gql(owner.key, `{ viewer { apiKeys(includeRevoked: true) { edges { node { id name hint scopes owner { id email name } createdAt expiresAt lastUsedAt revokedAt status } } } } }`, nil),
			e.gql(owner.key, `{ viewer { organization { auditLog(first: 100) { edges { node { id at action targetType targetId actor { userId credentialType credentialId } address userAgent detail } } } } } }`, nil),
		}
		secretBody := secret[4:44] // the random part, whatever the framing
		for i, resp := range responses {
			resp.ok(t)
			if strings.Contains(string(resp.Body), secretBody) {
				t.Fatalf("response %d holds the secret: %s", i, resp.Body)
			}
		}
		if strings.Contains(e.logs.String(), secretBody) || strings.Contains(e.logs.String(), owner.key[4:44]) {
			t.Fatal("the logs hold a secret")
		}
		hint := strings.Contains(string(responses[0].Body), secret[:8]+"…"+secret[46:])
		if !hint {
			t.Fatalf("hint missing: %s", responses[0].Body)
		}
	})
}

func TestAuditLogRecordsKeyAndMembershipChanges(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		tm := e.team()
		id, _ := e.createKey(tm.member, "audited", nil)
		e.gql(tm.admin.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
		e.gql(tm.owner.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": tm.member2.userID, "role": "ADMIN"}}).ok(t)
		e.gql(tm.owner.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": tm.member2.userID}}).ok(t)
		r := e.gql(tm.owner.key, `{ viewer { organization { auditLog(first: 100) { edges { node { action targetId actor { userId credentialType credentialId } via address userAgent } } } } } }`, nil).ok(t)
		var actions []string
		for _, ed := range r.get("viewer", "organization", "auditLog").(map[string]any)["edges"].([]any) {
			n := ed.(map[string]any)["node"].(map[string]any)
			actions = append(actions, n["action"].(string))
			if n["action"] == auth.ActionAPIKeyRevoked {
				actor := n["actor"].(map[string]any)
				if n["targetId"] != id || actor["userId"] != tm.admin.userID || actor["credentialType"] != "API_KEY" || n["via"] != "GRAPHQL" || n["address"] != "127.0.0.1" || n["userAgent"] == "" {
					t.Fatalf("revocation entry %v", n)
				}
			}
		}
		got := strings.Join(actions[:4], ",")
		if got != "member.removed,member.role_changed,api_key.revoked,api_key.created" {
			t.Fatalf("newest actions: %s", got)
		}
		other := e.gql(tm.outsider.key, `{ viewer { organization { auditLog(first: 100) { edges { node { targetId } } } } } }`, nil).ok(t)
		if strings.Contains(string(other.Body), id) {
			t.Fatal("another organization sees the audit log")
		}
	})
}

// TestRevocationReachesOtherReplicas runs two servers on one store: a key revoked
// through one is refused by the other within the cache bound of SPEC §11.
func TestRevocationReachesOtherReplicas(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		a, b := newEnv(t, st), newEnv(t, st)
		owner := a.bootstrap("Acme", "owner@acme.test")
		id, key := a.createKey(owner, "shared", nil)
		b.gql(key, `{ viewer { role } }`, nil).ok(t) // now cached in replica b
		a.gql(owner.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
		assertInvalidToken(t, a.gql(key, `{ viewer { role } }`, nil))
		time.Sleep(auth.DefaultCacheTTL + 10*time.Millisecond)
		assertInvalidToken(t, b.gql(key, `{ viewer { role } }`, nil))
	})
}

func TestLastUseIsRecordedAtMostOnceAMinute(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *env) {
		owner := e.bootstrap("Acme", "owner@acme.test")
		id, key := e.createKey(owner, "used", nil)
		c := e.createClient(owner, "used", nil)
		lastUsed := func() (key, client string) {
			r := e.gql(owner.key, `{ viewer { apiKeys(first: 100) { edges { node { id lastUsedAt } } } oauthClients { edges { node { id lastUsedAt } } } } }`, nil).ok(t)
			for _, ed := range r.get("viewer", "apiKeys").(map[string]any)["edges"].([]any) {
				if n := ed.(map[string]any)["node"].(map[string]any); n["id"] == id && n["lastUsedAt"] != nil {
					key = n["lastUsedAt"].(string)
				}
			}
			for _, ed := range r.get("viewer", "oauthClients").(map[string]any)["edges"].([]any) {
				if n := ed.(map[string]any)["node"].(map[string]any); n["id"] == c.id && n["lastUsedAt"] != nil {
					client = n["lastUsedAt"].(string)
				}
			}
			return key, client
		}
		if k, cl := lastUsed(); k != "" || cl != "" {
			t.Fatalf("used before any use: %q %q", k, cl)
		}
		e.gql(key, `{ viewer { role } }`, nil).ok(t)
		e.token(c, "")
		waitFor(t, "the uses to be written", func() bool { k, cl := lastUsed(); return k != "" && cl != "" })
		first, _ := lastUsed()
		e.clock.advance(30 * time.Second)
		defer e.clock.advance(-30 * time.Second)
		e.gql(key, `{ viewer { role } }`, nil).ok(t)
		time.Sleep(100 * time.Millisecond)
		if again, _ := lastUsed(); again != first {
			t.Fatalf("written again within the minute: %s then %s", first, again)
		}
		e.clock.advance(40 * time.Second)
		defer e.clock.advance(-40 * time.Second)
		time.Sleep(auth.DefaultCacheTTL) // past the cache, so the use is seen
		e.gql(key, `{ viewer { role } }`, nil).ok(t)
		waitFor(t, "the next minute's use", func() bool { again, _ := lastUsed(); return again != first })
	})
}
