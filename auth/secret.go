package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"strings"
)

// base62 is the credential alphabet, in the order of SPEC §3.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// checksumLen is the length of the base62 CRC-32 suffix.
const checksumLen = 6

// secretFormat describes one kind of credential string.
type secretFormat struct {
	prefix   string
	random   int  // number of random base62 characters
	checksum bool // whether a CRC-32 suffix follows
}

var (
	apiKeyFormat       = secretFormat{prefix: "ptg_", random: 40, checksum: true}
	clientSecretFormat = secretFormat{prefix: "ptgs_", random: 40, checksum: true}
	clientIDFormat     = secretFormat{prefix: "ptgc_", random: 24}
)

func (f secretFormat) length() int {
	n := len(f.prefix) + f.random
	if f.checksum {
		n += checksumLen
	}
	return n
}

// generate returns a new credential string from crypto/rand.
func (f secretFormat) generate() (string, error) {
	random, err := randomBase62(f.random)
	if err != nil {
		return "", err
	}
	if f.checksum {
		return f.prefix + random + checksum(random), nil
	}
	return f.prefix + random, nil
}

// valid checks prefix, length, alphabet and checksum without any I/O.
func (f secretFormat) valid(s string) bool {
	if len(s) != f.length() || !strings.HasPrefix(s, f.prefix) {
		return false
	}
	body := s[len(f.prefix):]
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return false
		}
	}
	if !f.checksum {
		return true
	}
	random, sum := body[:f.random], body[f.random:]
	return checksumMatches(random, sum)
}

// hint is the display form: prefix, the first and the last four characters.
func (f secretFormat) hint(s string) string {
	return f.prefix + s[len(f.prefix):len(f.prefix)+4] + "…" + s[len(s)-4:]
}

func isBase62(c byte) bool { return base62Char[c] }

// base62Char marks the base62 alphabet: every presented credential's every
// character is looked up here.
var base62Char = func() (t [256]bool) {
	for c := range 256 {
		t[c] = ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z')
	}
	return t
}()

// randomBase62 draws n uniformly distributed base62 characters from crypto/rand,
// rejecting bytes >= 248 (4×62) so that no character is more likely than another.
func randomBase62(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// checksum is the CRC-32 (IEEE) of random in base62, most significant digit
// first, left-padded with '0' to six characters.
// checksumMatches reports whether sum is checksum(random), without building
// the string: every presented credential is checked, junk included.
func checksumMatches(random, sum string) bool {
	if len(sum) != checksumLen {
		return false
	}
	v := crc32String(random)
	for i := checksumLen - 1; i >= 0; i-- {
		if sum[i] != base62[v%62] {
			return false
		}
		v /= 62
	}
	return true
}

// crc32String is crc32.ChecksumIEEE of s, read from the string itself rather
// than a copy of it.
func crc32String(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

func checksum(random string) string {
	v := crc32.ChecksumIEEE([]byte(random))
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}

// Digest is the SHA-256 digest under which a secret is stored.
func Digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// ValidAPIKey reports whether s is a well-formed ptg_ key (checksum included).
// It touches no database; a secret scanner can use the same rule offline.
func ValidAPIKey(s string) bool { return apiKeyFormat.valid(s) }

// ValidClientSecret reports whether s is a well-formed ptgs_ client secret.
func ValidClientSecret(s string) bool { return clientSecretFormat.valid(s) }

// ValidClientID reports whether s is a well-formed ptgc_ client id.
func ValidClientID(s string) bool { return clientIDFormat.valid(s) }
