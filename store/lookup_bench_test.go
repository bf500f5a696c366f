package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// BenchmarkLookupInALargeKeyTable looks keys up by digest in a table of 200,000
// (SQLite), spread over the table. It is how the page cache was judged: a 16 MiB
// cache per connection measured the same as SQLite's default 2 MiB (the OS's
// page cache serves the file either way), so the default stays. Run:
// go test -run '^$' -bench LookupInALargeKeyTable -benchtime 20000x ./store/
func BenchmarkLookupInALargeKeyTable(b *testing.B) {
	st := storetest.Open(b, "sqlite")
	ctx := context.Background()
	orgID, userID := seedB(b, st)
	const n = 200000
	digests := make([][]byte, n)
	err := st.Tx(ctx, func(tx *store.Store) error {
		for i := range n {
			d := sha256.Sum256([]byte(fmt.Sprint("k", i)))
			digests[i] = d[:]
			k := store.APIKey{ID: id(), OrgID: orgID, UserID: userID, Name: "k", Digest: d[:], Hint: "h", Scopes: "keys:read", CreatedAt: time.Now()}
			if err := tx.InsertAPIKey(ctx, &k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := st.APIKeyCredentialByDigest(ctx, digests[(i*7919)%n]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func seedB(b *testing.B, st *store.Store) (string, string) {
	ctx := context.Background()
	now := time.Now().UTC()
	org := store.Organization{ID: id(), Slug: "org-" + id()[:8], Name: "Org", CreatedAt: now}
	user := store.User{ID: id(), Email: id() + "@example.com", PasswordHash: "x", CreatedAt: now}
	_ = st.InsertOrganization(ctx, &org)
	_ = st.InsertUser(ctx, &user)
	_ = st.InsertMembership(ctx, &store.Membership{ID: id(), OrgID: org.ID, UserID: user.ID, Role: "OWNER", CreatedAt: now, UpdatedAt: now})
	return org.ID, user.ID
}
