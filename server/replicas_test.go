package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

// Two replicas on one PostgreSQL, each caching credentials for 10 s: only the
// announcement of a change can explain the other replica refusing a revoked
// credential at once.

func replicas(t *testing.T) (a, b *env, dbURL string) {
	t.Helper()
	dbURL = storetest.URL(t, "postgres")
	st, err := store.Open(context.Background(), dbURL, store.Options{})
	must(t, err)
	t.Cleanup(func() { _ = st.Close() })
	must(t, st.Migrate(context.Background()))
	long := func(o *auth.Options) { o.CacheTTL = 10 * time.Second }
	a = newEnv(t, st, long)
	b = newEnv(t, st, long, func(o *auth.Options) { o.Tokens = a.svc.Tokens() }) // one deployment, one issuer
	a.watch()
	b.watch()
	return a, b, dbURL
}

// announcementBound is how long after a revoking request returns the other
// replica may still have accepted it: none at all after this.
const announcementBound = 10 * time.Millisecond

func TestRevocationReachesEveryReplicaAtOnce(t *testing.T) {
	a, b, _ := replicas(t)
	owner := a.bootstrap("Acme", "owner@acme.test")
	q := `{ viewer { role } }`
	t.Run("an_api_key", func(t *testing.T) {
		id, key := a.createKey(owner, "shared", nil)
		b.gql(key, q, nil).ok(t) // cached on b for 10 s
		a.gql(owner.key, revokeKeyMutation, map[string]any{"id": id}).ok(t)
		time.Sleep(announcementBound)
		assertInvalidToken(t, b.gql(key, q, nil))
	})
	t.Run("an_oauth_client_and_its_tokens", func(t *testing.T) {
		c := a.createClient(owner, "shared", nil)
		tok := a.token(c, "")
		b.gql(tok, q, nil).ok(t)
		a.gql(owner.key, revokeClientMutation, map[string]any{"id": c.id}).ok(t)
		time.Sleep(announcementBound)
		assertInvalidToken(t, b.gql(tok, q, nil))
	})
	t.Run("a_removed_member", func(t *testing.T) {
		m := a.addMember(owner.slug, "leaver@acme.test", auth.RoleMember)
		b.gql(m.key, q, nil).ok(t)
		a.gql(owner.key, removeMemberMutation, map[string]any{"in": map[string]any{"userId": m.userID}}).ok(t)
		time.Sleep(announcementBound)
		assertInvalidToken(t, b.gql(m.key, q, nil))
	})
	t.Run("a_demoted_member", func(t *testing.T) {
		m := a.addMember(owner.slug, "demoted@acme.test", auth.RoleAdmin)
		b.gql(m.key, `{ viewer { organization { members { edges { cursor } } } } }`, nil).ok(t)
		a.gql(owner.key, updateRoleMutation, map[string]any{"in": map[string]any{"userId": m.userID, "role": "MEMBER"}}).ok(t)
		time.Sleep(announcementBound)
		if r := b.gql(m.key, `{ viewer { role organization { members { edges { cursor } } } } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("a_session", func(t *testing.T) {
		here, gone := a.browser(), a.browser()
		here.signIn("owner@acme.test", owner.password)
		gone.signIn("owner@acme.test", owner.password)
		// gone's cookie, used on replica b.
		onB := b.browser()
		aURL, _ := url.Parse(a.http.URL)
		bURL, _ := url.Parse(b.http.URL)
		onB.client.Jar.SetCookies(bURL, gone.client.Jar.Cookies(aURL))
		onB.gql(q, nil).ok(t)
		r := here.gql(`{ viewer { sessions { id current } } }`, nil).ok(t)
		var id string
		for _, s := range r.get("viewer", "sessions").([]any) {
			if m := s.(map[string]any); m["current"] == false {
				id = m["id"].(string)
			}
		}
		here.gql(`mutation($id: ID!) { revokeSession(id: $id) { id } }`, map[string]any{"id": id}).ok(t)
		time.Sleep(announcementBound)
		if r := onB.gql(q, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("a_signing_key", func(t *testing.T) {
		c := a.createClient(owner, "signed", nil)
		tok := a.token(c, "")
		b.gql(tok, q, nil).ok(t)
		keys, err := a.st.ListSigningKeys(context.Background())
		must(t, err)
		cli := auth.NewService(a.st, auth.Options{Tokens: a.svc.Tokens()}) // the command line
		if _, err := cli.RevokeSigningKey(context.Background(), keys[0].ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(announcementBound)
		assertInvalidToken(t, b.gql(tok, q, nil))
		b.gql(b.token(c, ""), q, nil).ok(t) // b signs with the new key at once
	})
}

func TestAReplicaThatMissedAnnouncementsForgetsEverything(t *testing.T) {
	a, b, dbURL := replicas(t)
	owner := a.bootstrap("Acme", "owner@acme.test")
	id, key := a.createKey(owner, "shared", nil)
	b.gql(key, `{ viewer { role } }`, nil).ok(t)
	// b loses its listening connection, and meanwhile the key is revoked
	// without any announcement reaching it.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	must(t, err)
	defer conn.Close(ctx)
	var schema string
	must(t, conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema))
	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, `LISTEN "ptg_auth_`+schema+`"`)
	must(t, err)
	_, err = conn.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, id)
	must(t, err)
	waitFor(t, "b to listen again and forget", func() bool { return b.gql(key, `{ viewer { role } }`, nil).Status == http.StatusUnauthorized })
}

// BenchmarkRevocationAcrossReplicas measures, per revocation through replica a,
// how many requests on replica b still succeeded although they started after
// the revoking request had returned (stale_accepts), and how long after it the
// last of them started (stale_ms): with announcements (b listens) and with the
// cache bound alone (100 ms, b does not listen). Four clients hammer b with the
// key throughout.
func BenchmarkRevocationAcrossReplicas(b *testing.B) {
	for _, mode := range []string{"announced", "cache_bound_only"} {
		b.Run(mode, func(b *testing.B) {
			dbURL := storetest.URL(b, "postgres")
			st, err := store.Open(context.Background(), dbURL, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if err := st.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			ra, rb := newEnv(b, st), newEnv(b, st)
			if mode == "announced" {
				ra.watch()
				rb.watch()
			}
			owner := ra.bootstrap("Acme", "owner@acme.test")
			var stale, lagMax int64
			for i := 0; b.Loop(); i++ {
				id, key := ra.createKey(owner, fmt.Sprint("k", i), nil)
				rb.gql(key, `{ viewer { role } }`, nil).ok(b)
				var returned atomic.Int64 // unix nanos when the revocation returned
				stop := make(chan struct{})
				var count, lag atomic.Int64
				wg := untilStopped(4, stop, func() {
					start := time.Now().UnixNano()
					r := rb.gql(key, `{ viewer { role } }`, nil)
					if t0 := returned.Load(); t0 != 0 && start > t0 && r.Status == http.StatusOK {
						count.Add(1)
						if d := start - t0; d > lag.Load() {
							lag.Store(d)
						}
					}
				})
				time.Sleep(5 * time.Millisecond)
				ra.gql(owner.key, revokeKeyMutation, map[string]any{"id": id}).ok(b)
				returned.Store(time.Now().UnixNano())
				time.Sleep(150 * time.Millisecond)
				close(stop)
				wg.Wait()
				stale += count.Load()
				lagMax = max(lagMax, lag.Load())
			}
			b.ReportMetric(float64(stale)/float64(b.N), "stale_accepts/op")
			b.ReportMetric(float64(lagMax)/1e6, "max_stale_ms")
		})
	}
}
