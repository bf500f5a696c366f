package auth

import (
	"github.com/alexedwards/argon2id"
)

// passwordParams are the argon2id parameters for new hashes (RFC 9106's second
// recommended option, scaled to 64 MiB; stored in the hash, so they can change).
var passwordParams = &argon2id.Params{
	Memory:      64 * 1024,
	Iterations:  3,
	Parallelism: 2,
	SaltLength:  16,
	KeyLength:   32,
}

// HashPassword returns the argon2id PHC string for password.
func HashPassword(password string) (string, error) {
	return argon2id.CreateHash(password, passwordParams)
}

// CheckPassword compares password with an argon2id hash in constant time.
func CheckPassword(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// newPassword generates a first password: 24 base62 characters (~143 bits).
func newPassword() (string, error) { return randomBase62(24) }
