package auth

import (
	"context"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
	"testing"
)

// referenceChecksum recomputes SPEC §3's checksum with math/big, independently of
// the production code.
func referenceChecksum(random string) string {
	n := big.NewInt(int64(crc32.ChecksumIEEE([]byte(random))))
	var digits []byte
	base := big.NewInt(62)
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		digits = append([]byte{base62[mod.Int64()]}, digits...)
	}
	return strings.Repeat("0", 6-len(digits)) + string(digits)
}

func TestAPIKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, err := apiKeyFormat.generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != 50 || !strings.HasPrefix(k, "ptg_") {
			t.Fatalf("bad shape %q", k)
		}
		if got, want := k[44:], referenceChecksum(k[4:44]); got != want {
			t.Fatalf("checksum of %q = %q, want %q", k, got, want)
		}
		if !ValidAPIKey(k) {
			t.Fatalf("generated key %q does not validate", k)
		}
		if seen[k] {
			t.Fatal("duplicate key")
		}
		seen[k] = true
	}
}

func TestChecksumKnownVector(t *testing.T) {
	random := strings.Repeat("A", 40)
	if got, want := checksum(random), referenceChecksum(random); got != want {
		t.Fatalf("checksum = %q, want %q", got, want)
	}
	// crc32("") is 0: the padding rule gives six zeros.
	if got := checksum(""); got != "000000" {
		t.Fatalf("checksum(\"\") = %q", got)
	}
}

func TestValidAPIKeyRejects(t *testing.T) {
	good, _ := apiKeyFormat.generate()
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":               "",
		"prefix only":         "ptg_",
		"wrong prefix":        "ptx_" + good[4:],
		"upper-case prefix":   "PTG_" + good[4:],
		"truncated":           good[:49],
		"one char too many":   good + "0",
		"bad checksum":        flip(good, 49),
		"typo in random part": flip(good, 10),
		"non-base62 char":     good[:10] + "-" + good[11:],
		"non-ASCII":           good[:10] + "é" + good[12:],
		"client secret":       "ptgs_" + good[4:],
	}
	for name, k := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			if ValidAPIKey(k) {
				t.Fatalf("%q validated", k)
			}
		})
	}
}

func TestParseBearer(t *testing.T) {
	key, _ := apiKeyFormat.generate()
	cases := []struct {
		name, header string
		ok           bool
	}{
		{"canonical", "Bearer " + key, true},
		{"lower-case scheme", "bearer " + key, true},
		{"shouting scheme", "BEARER " + key, true},
		{"extra spaces", "Bearer   " + key, true},
		{"basic scheme", "Basic " + key, false},
		{"no scheme", key, false},
		{"empty token", "Bearer ", false},
		{"tab separator", "Bearer\t" + key, false},
		{"trailing junk", "Bearer " + key + " x", false},
		{"control byte", "Bearer " + key[:10] + "\x00" + key[11:], false},
		{"16 KB", "Bearer " + strings.Repeat("A", 16<<10), false},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			tok, err := ParseBearer(c.header)
			if c.ok != (err == nil) {
				t.Fatalf("ParseBearer(%.40q) err=%v, want ok=%v", c.header, err, c.ok)
			}
			if c.ok && tok != key {
				t.Fatalf("token %q", tok)
			}
			if err != nil && strings.Contains(err.Error(), key[4:20]) {
				t.Fatal("error echoes the credential")
			}
		})
	}
}

func FuzzParseBearer(f *testing.F) {
	key, _ := apiKeyFormat.generate()
	for _, s := range []string{"Bearer " + key, "bearer x", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer a==", "Bearer =a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := ParseBearer(header)
		if err == nil {
			if tok == "" || !isB64Token(tok) || len(tok) > len(header) {
				t.Fatalf("accepted %q as %q", header, tok)
			}
		} else if KindOf(err) != KindUnauthenticated {
			t.Fatalf("kind %v", KindOf(err))
		}
	})
}

func FuzzValidAPIKey(f *testing.F) {
	key, _ := apiKeyFormat.generate()
	f.Add(key)
	f.Add("ptg_")
	f.Add("ptg_" + strings.Repeat("0", 46))
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidAPIKey(s) {
			return
		}
		if len(s) != 50 || s[44:] != referenceChecksum(s[4:44]) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestRandomBase62IsUniform(t *testing.T) {
	s, err := randomBase62(62 * 2000)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters", len(counts))
	}
	// Each character expects 2000 draws (sd ≈ 44); modulo bias would push the
	// first 8 characters ~3% high. 6 sd bounds keep the test from flaking.
	for r, n := range counts {
		if n < 2000-270 || n > 2000+270 {
			t.Fatalf("character %q drawn %d times", r, n)
		}
	}
}

// TestMalformedCredentialsNeverReachTheStore runs the authenticator over a
// service without a store: any database access would panic.
func TestMalformedCredentialsNeverReachTheStore(t *testing.T) {
	a := NewService(nil, Options{}).Authenticator()
	good, _ := apiKeyFormat.generate()
	for _, h := range []string{
		"Bearer " + good[:49] + "x", "Bearer " + good[:30], "Bearer ptg_", "Bearer ptx_" + good[4:],
		"Bearer " + strings.Replace(good, good[10:11], "-", 1), "Bearer nonsense", "Basic " + good,
		"Bearer " + strings.Repeat("a", 5000),
	} {
		p, err := a.Authenticate(context.Background(), h)
		if p != nil || KindOf(err) != KindUnauthenticated {
			t.Fatalf("%.30q: %v %v", h, p, err)
		}
	}
	if _, err := a.Authenticate(context.Background(), ""); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("empty header: %v", err)
	}
}

func TestRedactSecrets(t *testing.T) {
	key, _ := apiKeyFormat.generate()
	secret, _ := clientSecretFormat.generate()
	id, _ := clientIDFormat.generate()
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwdGdjX3gifQ.MEUCIQDx-sig_part"
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"/" + key, "/ptg_[redacted]"},
		{"Bearer " + key + " and " + secret, "Bearer ptg_[redacted] and ptgs_[redacted]"},
		{"ptg_" + "typo12345", "ptg_[redacted]"},
		{"client " + id, "client " + id}, // client ids are public
		{"token=" + jwt, "token=[redacted JWT]"},
		{"header only eyJhbGciOiJFUzI1NiIsImtpZCI6", "header only [redacted JWT]"},
		{"session ptgss_abcdefgh1234", "session ptgss_[redacted]"},
		{"eyJ short", "eyJ short"},
	}
	for _, c := range cases {
		if got := RedactSecrets(c.in); got != c.want {
			t.Errorf("RedactSecrets(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
