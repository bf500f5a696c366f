package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

func id() string { return uuid.Must(uuid.NewV7()).String() }

// seed creates an organization with one member and returns their ids.
func seed(t *testing.T, st *store.Store, role string) (orgID, userID string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	org := store.Organization{ID: id(), Slug: "org-" + id()[:8] + id()[30:], Name: "Org", CreatedAt: now}
	user := store.User{ID: id(), Email: id() + "@example.com", PasswordHash: "x", CreatedAt: now}
	must(t, st.InsertOrganization(ctx, &org))
	must(t, st.InsertUser(ctx, &user))
	must(t, st.InsertMembership(ctx, &store.Membership{ID: id(), OrgID: org.ID, UserID: user.ID, Role: role, CreatedAt: now, UpdatedAt: now}))
	return org.ID, user.ID
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStoreContract(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()

		t.Run("migrations_are_idempotent_and_safe_concurrently", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() { errs <- st.Migrate(ctx) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				must(t, err)
			}
		})

		t.Run("missing_records_are_ErrNotFound", func(t *testing.T) {
			_, err := st.UserByID(ctx, id())
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
			_, err = st.APIKeyCredentialByDigest(ctx, []byte("nope"))
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})

		t.Run("duplicates_are_ErrConflict", func(t *testing.T) {
			orgID, userID := seed(t, st, "OWNER")
			u, err := st.UserByID(ctx, userID)
			must(t, err)
			dup := store.User{ID: id(), Email: u.Email, PasswordHash: "x", CreatedAt: time.Now()}
			if err := st.InsertUser(ctx, &dup); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("duplicate email: got %v, want ErrConflict", err)
			}
			m := store.Membership{ID: id(), OrgID: orgID, UserID: userID, Role: "ADMIN", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.InsertMembership(ctx, &m); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("duplicate membership: got %v, want ErrConflict", err)
			}
		})

		t.Run("foreign_keys_are_enforced", func(t *testing.T) {
			m := store.Membership{ID: id(), OrgID: id(), UserID: id(), Role: "MEMBER", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.InsertMembership(ctx, &m); err == nil {
				t.Fatal("membership of an unknown organization was stored")
			}
		})

		t.Run("key_lookup_by_digest_joins_the_current_role", func(t *testing.T) {
			orgID, userID := seed(t, st, "ADMIN")
			now := time.Now().UTC().Truncate(time.Microsecond)
			exp := now.Add(time.Hour)
			k := store.APIKey{ID: id(), OrgID: orgID, UserID: userID, Name: "k", Digest: []byte(id()), Hint: "h", Scopes: "keys:read", CreatedAt: now, ExpiresAt: &exp}
			must(t, st.InsertAPIKey(ctx, &k))
			c, err := st.APIKeyCredentialByDigest(ctx, k.Digest)
			must(t, err)
			if c.ID != k.ID || c.Role != "ADMIN" || c.Scopes != "keys:read" || c.ExpiresAt == nil || !c.ExpiresAt.Equal(exp) {
				t.Fatalf("got %+v", c)
			}
			must(t, st.UpdateMembershipRole(ctx, orgID, userID, "MEMBER", now))
			c, _ = st.APIKeyCredentialByDigest(ctx, k.Digest)
			if c.Role != "MEMBER" {
				t.Fatalf("role after demotion = %q", c.Role)
			}
			must(t, st.DeleteMembership(ctx, orgID, userID))
			c, _ = st.APIKeyCredentialByDigest(ctx, k.Digest)
			if c.Role != "" {
				t.Fatalf("role after leaving = %q, want empty", c.Role)
			}
		})

		t.Run("revoking_twice_changes_one_row", func(t *testing.T) {
			orgID, userID := seed(t, st, "MEMBER")
			k := store.APIKey{ID: id(), OrgID: orgID, UserID: userID, Name: "k", Digest: []byte(id()), Hint: "h", CreatedAt: time.Now()}
			must(t, st.InsertAPIKey(ctx, &k))
			for i, want := range []bool{true, false} {
				changed, err := st.MarkAPIKeyRevoked(ctx, orgID, k.ID, time.Now())
				must(t, err)
				if changed != want {
					t.Fatalf("revoke #%d changed=%v, want %v", i+1, changed, want)
				}
			}
			if changed, _ := st.MarkAPIKeyRevoked(ctx, id(), k.ID, time.Now()); changed {
				t.Fatal("revoked through another organization")
			}
		})

		t.Run("listing_pages_by_keyset_in_both_orders", func(t *testing.T) {
			orgID, userID := seed(t, st, "MEMBER")
			var ids []string
			for i := range 5 {
				k := store.APIKey{ID: id(), OrgID: orgID, UserID: userID, Name: fmt.Sprint(i), Digest: []byte(id()), Hint: "h", CreatedAt: time.Now()}
				must(t, st.InsertAPIKey(ctx, &k))
				ids = append(ids, k.ID)
			}
			_, err := st.MarkAPIKeyRevoked(ctx, orgID, ids[2], time.Now())
			must(t, err)
			for _, asc := range []bool{false, true} {
				var got []string
				f := store.CredentialFilter{OrgID: orgID, Page: store.Page{Limit: 2, Ascending: asc}}
				for {
					keys, more, err := st.ListAPIKeys(ctx, f)
					must(t, err)
					for _, k := range keys {
						got = append(got, k.ID)
					}
					if !more {
						break
					}
					f.Page.After = keys[len(keys)-1].ID
				}
				want := []string{ids[0], ids[1], ids[3], ids[4]}
				if !asc {
					want = []string{ids[4], ids[3], ids[1], ids[0]}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("ascending=%v: got %v, want %v", asc, got, want)
				}
			}
			f := store.CredentialFilter{OrgID: orgID, IncludeRevoked: true, Page: store.Page{Limit: 10}}
			keys, more, err := st.ListAPIKeys(ctx, f)
			must(t, err)
			if len(keys) != 5 || more {
				t.Fatalf("with revoked: %d keys, more=%v", len(keys), more)
			}
		})

		t.Run("transactions_roll_back_together", func(t *testing.T) {
			orgID, userID := seed(t, st, "MEMBER")
			boom := errors.New("boom")
			k := store.APIKey{ID: id(), OrgID: orgID, UserID: userID, Name: "k", Digest: []byte(id()), Hint: "h", CreatedAt: time.Now()}
			err := st.Tx(ctx, func(tx *store.Store) error {
				must(t, tx.InsertAPIKey(ctx, &k))
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("got %v", err)
			}
			if _, err := st.APIKeyByID(ctx, orgID, k.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rolled-back key is visible: %v", err)
			}
		})

		t.Run("concurrent_writers_wait_instead_of_failing", func(t *testing.T) {
			orgID, userID := seed(t, st, "MEMBER")
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := range 50 {
				wg.Go(func() {
					errs <- st.Tx(ctx, func(tx *store.Store) error {
						if _, err := tx.MembershipByOrgUser(ctx, orgID, userID); err != nil {
							return err
						}
						k := store.APIKey{ID: id(), OrgID: orgID, UserID: userID, Name: fmt.Sprint(i), Digest: []byte(id()), Hint: "h", CreatedAt: time.Now()}
						return tx.InsertAPIKey(ctx, &k)
					})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				must(t, err)
			}
		})
	})
}

func TestOpenRefusesUnknownURLsWithoutLeakingPasswords(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://root:hunter2@localhost/db", store.Options{})
	if err == nil {
		t.Fatal("opened a mysql URL")
	}
	if got := err.Error(); contains(got, "hunter2") {
		t.Fatalf("error leaks the password: %s", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestClientLookups(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		orgID, userID := seed(t, st, "ADMIN")
		now := time.Now().UTC()
		c := store.OAuthClient{ID: id(), OrgID: orgID, UserID: userID, Name: "c", ClientID: "ptgc_" + id()[:24], SecretDigest: []byte(id()), SecretHint: "h", Scopes: "keys:read", CreatedAt: now}
		must(t, st.InsertOAuthClient(ctx, &c))
		got, err := st.OAuthClientCredential(ctx, c.ClientID)
		must(t, err)
		if got.ID != c.ID || got.Role != "ADMIN" || string(got.SecretDigest) != string(c.SecretDigest) || got.Scopes != "keys:read" || got.RevokedAt != nil {
			t.Fatalf("%+v", got)
		}
		check := func(wantRevoked, wantRecent bool) {
			t.Helper()
			a, err := st.ClientAuthentication(ctx, c.ClientID, now.Add(-time.Minute))
			must(t, err)
			if a.ID != c.ID || a.Role != "ADMIN" || string(a.SecretDigest) != string(c.SecretDigest) || a.Revoked != wantRevoked || a.RecentlyUsed != wantRecent {
				t.Fatalf("%+v", a)
			}
		}
		check(false, false)
		must(t, st.TouchOAuthClient(ctx, c.ID, now, time.Minute))
		check(false, true)
		_, err = st.MarkOAuthClientRevoked(ctx, orgID, c.ID, now)
		must(t, err)
		check(true, true)
		if _, err := st.OAuthClientCredential(ctx, "ptgc_unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		if _, err := st.ClientAuthentication(ctx, "ptgc_unknown", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}

// On SQLite a write transaction waiting for another holds no pool connection,
// so reads go on however many writers queue: with the pool taken by waiting
// writers, the one holding the lock could stall behind a read that waits for a
// connection (gorm prepares a new statement on the pool under a process-wide
// lock), until SQLite's busy timeout failed every waiting writer.
func TestWaitingWritersLeaveTheSQLitePoolToReaders(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.URL(t, "sqlite"), store.Options{MaxOpenConns: 2})
	must(t, err)
	t.Cleanup(func() { _ = st.Close() })
	must(t, st.Migrate(ctx))
	_, userID := seed(t, st, "OWNER")

	holding, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- st.Tx(ctx, func(tx *store.Store) error {
			close(holding)
			<-release
			_, err := tx.UserByID(ctx, userID)
			return err
		})
	}()
	<-holding
	waiter := make(chan error, 1)
	go func() { waiter <- st.Tx(ctx, func(*store.Store) error { return nil }) }()
	time.Sleep(100 * time.Millisecond) // the second writer is waiting by now

	read := make(chan error, 1)
	go func() { _, err := st.UserByID(ctx, userID); read <- err }()
	select {
	case err := <-read:
		must(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a read waited for a connection held by a writer waiting for the lock")
	}
	close(release)
	must(t, <-holder)
	must(t, <-waiter)
}
