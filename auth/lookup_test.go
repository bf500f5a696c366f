package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingObserver counts cache hits.
type countingObserver struct {
	nopObserver
	hits atomic.Int64
}

func (o *countingObserver) CacheLookup(hit bool) {
	if hit {
		o.hits.Add(1)
	}
}

func TestConcurrentLookupsOfOneCredentialShareOneStoreLookup(t *testing.T) {
	a := NewService(nil, Options{}).Authenticator()
	digest := Digest("ptg_concurrent")
	var loads atomic.Int64
	release := make(chan struct{})
	load := func(context.Context, time.Time) (*Principal, error) {
		loads.Add(1)
		<-release
		return &Principal{UserID: "u", OrgID: "o", Role: RoleMember, Method: MethodAPIKey, CredentialID: "k"}, nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			p, err := a.lookup(context.Background(), digest, true, load)
			if err != nil || p.CredentialID != "k" {
				t.Errorf("%v %v", p, err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all join the one lookup
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d store lookups for 20 concurrent requests", n)
	}
}

func TestALookupThatBeganBeforeAnInvalidationIsNotShared(t *testing.T) {
	a := NewService(nil, Options{}).Authenticator()
	digest := Digest("ptg_fenced")
	started, release := make(chan struct{}), make(chan struct{})
	var loads atomic.Int64
	load := func(context.Context, time.Time) (*Principal, error) {
		if loads.Add(1) == 1 {
			close(started)
			<-release
		}
		return &Principal{Role: RoleMember, CredentialID: "k"}, nil
	}
	go func() { _, _ = a.lookup(context.Background(), digest, true, load) }()
	<-started
	a.cache.forget(Invalidation{CredentialID: "k"}) // a revocation commits meanwhile
	if _, err := a.lookup(context.Background(), digest, true, load); err != nil {
		t.Fatal(err)
	}
	close(release)
	if n := loads.Load(); n != 2 {
		t.Fatalf("the request after the revocation shared the older lookup (%d lookups)", n)
	}
}

func TestRefusalsAreCachedForTheCacheInterval(t *testing.T) {
	obs := &countingObserver{}
	a := NewService(nil, Options{Observer: obs}).Authenticator()
	digest := Digest("ptg_unknown")
	var loads atomic.Int64
	load := func(context.Context, time.Time) (*Principal, error) {
		loads.Add(1)
		return nil, invalidToken(msgUnknown)
	}
	for range 5 {
		if _, err := a.lookup(context.Background(), digest, true, load); KindOf(err) != KindUnauthenticated {
			t.Fatal(err)
		}
	}
	if loads.Load() != 1 || obs.hits.Load() != 4 {
		t.Fatalf("%d lookups, %d hits", loads.Load(), obs.hits.Load())
	}
	// A creation of that very credential forgets the refusal.
	a.cache.forget(Invalidation{Digest: "not hex"}, Invalidation{Digest: hexDigest(digest)})
	_, _ = a.lookup(context.Background(), digest, true, load)
	if loads.Load() != 2 {
		t.Fatal("the refusal outlived the creation")
	}
	// Client authentication failures are never cached: an unknown id and a
	// wrong secret must always cost the same.
	for range 3 {
		_, _ = a.lookup(context.Background(), Digest("client"), false, load)
	}
	if loads.Load() != 5 {
		t.Fatalf("%d lookups", loads.Load())
	}
}

func TestARefusalOfACredentialTheStoreLacksLasts(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a := NewService(nil, Options{Now: func() time.Time { return now }}).Authenticator()
	var loads atomic.Int64
	lookup := func(digest []byte, refusal error) {
		_, _ = a.lookup(context.Background(), digest, true, func(context.Context, time.Time) (*Principal, error) {
			loads.Add(1)
			return nil, refusal
		})
	}
	unknown, revoked := Digest("ptg_never_existed"), Digest("ptg_revoked")
	lookup(unknown, errUnknownCredential)
	lookup(revoked, invalidToken(msgUnknown))
	now = now.Add(30 * time.Second)
	lookup(unknown, errUnknownCredential)
	lookup(revoked, invalidToken(msgUnknown))
	if n := loads.Load(); n != 3 {
		t.Fatalf("%d store lookups; want the unknown one cached, the revoked one asked again", n)
	}
	now = now.Add(lastingRefusal)
	lookup(unknown, errUnknownCredential)
	if n := loads.Load(); n != 4 {
		t.Fatalf("%d store lookups; the lasting refusal never ends", n)
	}
}

func TestAFloodOfRefusalsEvictsNoWorkingCredential(t *testing.T) {
	c := newPrincipalCache(time.Minute, nopObserver{})
	now := time.Now()
	working := Digest("ptg_working")
	c.put(working, &Principal{CredentialID: "k", Role: RoleMember}, 0, now)
	for i := range 3 * maxCacheEntries {
		c.refuse(Digest(fmt.Sprintf("ptg_junk_%d", i)), errUnknownCredential, 0, now, true)
	}
	if p, hit, _, err := c.get(working, now); !hit || err != nil || p.CredentialID != "k" {
		t.Fatal("the working credential was evicted by refusals")
	}
	if len(c.refusals) > maxCacheEntries {
		t.Fatalf("%d refusals kept", len(c.refusals))
	}
}

func TestHandWrittenTokensVerifyWithAnyIssuer(t *testing.T) {
	for _, issuer := range []string{"https://ptg.example.com", `https://ex.example/"quoted"\back`, "https://exämple.test/ünï\u2028"} {
		svc := NewService(nil, Options{Tokens: TokenConfig{Issuer: issuer, Audience: issuer + "/graphql", TTL: time.Hour, Alg: "ES256"}})
		signer, err := generateKey("ES256")
		if err != nil {
			t.Fatal(err)
		}
		key := signingKey{kid: "kid1", alg: "ES256", private: signer}
		key.method, _ = methodFor("ES256")
		key.encodedHeader = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtpZDEiLCJ0eXAiOiJhdCtqd3QifQ" // {"alg":"ES256","kid":"kid1","typ":"at+jwt"}
		svc.keys.keys = []signingKey{key}
		svc.keys.loadedAt = time.Now()
		now := time.Now().Unix()
		tok, err := svc.encodeToken(key, tokenClaims{subject: "ptgc_x", jti: "j", scope: "keys:read", orgID: "o", issuedAt: now, expires: now + 3600})
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.authn.verifyAccessToken(context.Background(), tok)
		if err != nil {
			t.Fatalf("issuer %q: %v", issuer, err)
		}
		if v.clientID != "ptgc_x" || v.Scope != "keys:read" || v.OrgID != "o" || v.Audience[0] != issuer+"/graphql" {
			t.Fatalf("%+v", v)
		}
	}
}

func TestIntrospectionJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range []Introspection{
		{},
		{Active: true, Scope: "keys:read", TokenType: "Bearer", Exp: 1795773319, Sub: "u", Iss: `https://x.example/"q"`, OrgID: "o", Role: "OWNER", CredentialType: "api_key"},
		{Active: true, Scope: "a b", ClientID: "ptgc_x", TokenType: "Bearer", Exp: 2, Iat: 1, Nbf: 1, Sub: "ptgc_x",
			Aud: []string{"https://x.example/graphql", "ü\u2028"}, Iss: "i", Jti: "j", OrgID: "o", Role: "MEMBER", CredentialType: "access_token"},
	} {
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		if err := json.Unmarshal(in.AppendJSON(nil), &a); err != nil {
			t.Fatalf("%s: %v", in.AppendJSON(nil), err)
		}
		_ = json.Unmarshal(want, &b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("hand-written %s\nencoding/json %s", in.AppendJSON(nil), want)
		}
	}
	if got := string(Introspection{}.AppendJSON(nil)); got != `{"active":false}` {
		t.Fatalf("inactive is %s", got)
	}
}
