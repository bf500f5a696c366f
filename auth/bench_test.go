package auth

import (
	"context"
	"testing"
	"time"

	"github.com/pentographer/pentographer/store/storetest"
)

// BenchmarkRejectMalformedKey measures refusing a key with a bad checksum: no
// database is involved (the service has none).
func BenchmarkRejectMalformedKey(b *testing.B) {
	a := NewService(nil, Options{}).Authenticator()
	key, _ := apiKeyFormat.generate()
	header := "Bearer " + key[:49] + "!"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, header); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkVerifyKey measures authenticating a valid key end to end: parse,
// checksum, digest, then the cache ("cached") or one indexed lookup with the
// creator's role ("uncached", the cache disabled).
func BenchmarkVerifyKey(b *testing.B) {
	for _, backend := range storetest.Backends {
		for _, cached := range []bool{true, false} {
			name := backend + "/cached"
			ttl := DefaultCacheTTL
			if !cached {
				name, ttl = backend+"/uncached", -1
			}
			b.Run(name, func(b *testing.B) { benchmarkVerifyKey(b, backend, ttl) })
		}
	}
}

func benchmarkVerifyKey(b *testing.B, backend string, ttl time.Duration) {
	svc := NewService(storetest.Open(b, backend), Options{CacheTTL: ttl, PasswordCost: PasswordCost{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}})
	e, err := svc.Bootstrap(context.Background(), "Bench", "owner@bench.test")
	if err != nil {
		b.Fatal(err)
	}
	a := svc.Authenticator()
	header := "Bearer " + e.APIKey
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, header); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFailedClientAuthentication compares the two failures an attacker
// must not tell apart: an unknown client id and a known id with a wrong secret.
// Both cost one indexed lookup and one constant-time digest comparison.
func BenchmarkFailedClientAuthentication(b *testing.B) {
	for _, backend := range storetest.Backends {
		b.Run(backend, func(b *testing.B) {
			svc := NewService(storetest.Open(b, backend), Options{PasswordCost: PasswordCost{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}})
			e, err := svc.Bootstrap(context.Background(), "Bench", "owner@bench.test")
			if err != nil {
				b.Fatal(err)
			}
			p, err := svc.Authenticator().Authenticate(context.Background(), "Bearer "+e.APIKey)
			if err != nil {
				b.Fatal(err)
			}
			c, err := svc.CreateOAuthClient(WithPrincipal(context.Background(), p), CreateOAuthClientInput{Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			wrong, _ := clientSecretFormat.generate()
			unknownID, _ := clientIDFormat.generate()
			for _, tc := range []struct{ name, id, secret string }{
				{"unknown_client", unknownID, c.ClientSecret},
				{"wrong_secret", c.Client.ClientID, wrong},
			} {
				b.Run(tc.name, func(b *testing.B) {
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := svc.Authenticator().AuthenticateClient(ctx, tc.id, tc.secret); err == nil {
							b.Fatal("accepted")
						}
					}
				})
			}
		})
	}
}
