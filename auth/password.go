package auth

import (
	"github.com/alexedwards/argon2id"
)

// PasswordCost is the argon2id work factor of new password hashes. Each hash
// records its own parameters, so the cost can change without breaking old ones.
type PasswordCost struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultPasswordCost follows RFC 9106's second recommended option, scaled to
// 64 MiB and three passes.
var DefaultPasswordCost = PasswordCost{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 2}

// HashPassword returns the argon2id PHC string for password at the default cost.
func HashPassword(password string) (string, error) {
	return DefaultPasswordCost.hash(password)
}

func (c PasswordCost) hash(password string) (string, error) {
	return argon2id.CreateHash(password, &argon2id.Params{
		Memory: c.MemoryKiB, Iterations: c.Iterations, Parallelism: c.Parallelism,
		SaltLength: 16, KeyLength: 32,
	})
}

// CheckPassword compares password with an argon2id hash in constant time.
func CheckPassword(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// newPassword generates a first password: 24 base62 characters (~143 bits).
func newPassword() (string, error) { return randomBase62(24) }
