package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/store"
	"github.com/pentographer/pentographer/store/storetest"
)

func secretKeys(t *testing.T, keys ...string) *auth.SecretKeys {
	t.Helper()
	ks, err := auth.ParseSecretKeys(strings.Join(keys, ","))
	must(t, err)
	return ks
}

func generatedKey(t *testing.T) string {
	t.Helper()
	k, err := auth.GenerateSecretKey()
	must(t, err)
	return k
}

// jwksBody is the JWKS a server publishes, as served.
func (e *env) jwksBody() string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/.well-known/jwks.json", nil)
	r := e.do(req)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"keys"`) {
		e.t.Fatalf("JWKS: %d %s", r.Status, r.Body)
	}
	return string(r.Body)
}

// TestReencryptionLeavesTokensAndTheJWKSAlone changes the secret key under a
// running deployment: the running server keeps serving, a token signed before
// the re-encryption verifies on a server restarted with the new key only, and
// the JWKS does not change.
func TestReencryptionLeavesTokensAndTheJWKSAlone(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		oldKey, newKey := generatedKey(t), generatedKey(t)
		a := newEnv(t, st, func(o *auth.Options) { o.SecretKeys = secretKeys(t, oldKey) })
		owner := a.bootstrap("Acme", "owner@acme.test")
		c := a.createClient(owner, "integration", nil)
		signedBefore := a.token(c, "")
		jwks := a.jwksBody()

		// The operator re-encrypts from the command line: a service of its own
		// that knows both keys, the new one first.
		cli := auth.NewService(st, auth.Options{Tokens: a.svc.Tokens(), SecretKeys: secretKeys(t, newKey, oldKey)})
		if n, _, err := cli.ReencryptSigningKeys(ctx); err != nil || n != 1 {
			t.Fatalf("reencrypt: %d %v", n, err)
		}

		// The running server re-reads the rows it can no longer open and keeps
		// serving with the keys it holds.
		time.Sleep(100 * time.Millisecond) // KeyRefresh is 50 ms in tests
		a.gql(signedBefore, `{ viewer { role } }`, nil).ok(t)
		a.gql(a.token(c, ""), `{ viewer { role } }`, nil).ok(t)
		if got := a.jwksBody(); got != jwks {
			t.Fatalf("the running server's JWKS changed:\n%s\n%s", got, jwks)
		}
		if !strings.Contains(a.logs.String(), "a signing key cannot be decrypted with the configured secret keys") {
			t.Fatalf("the running server did not log the unreadable row: %s", a.logs)
		}

		// A server started with the new key alone serves the same keys.
		b := newEnv(t, st, func(o *auth.Options) {
			o.Tokens = a.svc.Tokens() // one deployment, one issuer
			o.SecretKeys = secretKeys(t, newKey)
		})
		b.gql(signedBefore, `{ viewer { role } }`, nil).ok(t)
		if got := b.jwksBody(); got != jwks {
			t.Fatalf("the JWKS changed with the re-encryption:\n%s\n%s", got, jwks)
		}
		a.gql(b.token(c, ""), `{ viewer { role } }`, nil).ok(t)

		// The old key alone no longer starts a server.
		err := auth.NewService(st, auth.Options{Tokens: a.svc.Tokens(), SecretKeys: secretKeys(t, oldKey)}).EnsureSigningKey(ctx)
		if err == nil || !strings.Contains(err.Error(), "is encrypted with secret key "+secretKeys(t, newKey).PrimaryID()) {
			t.Fatalf("start with the old key: %v", err)
		}
	})
}
