package auth

import (
	"runtime"

	"github.com/alexedwards/argon2id"
)

// PasswordCost is the argon2id work factor of new password hashes. Each hash
// records its own parameters, so the cost can change without breaking old ones.
type PasswordCost struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultPasswordCost is OWASP's recommended argon2id configuration (19 MiB,
// two passes, one lane): as strong as its 46 MiB / one-pass equivalent, and
// small enough that several sign-ins at once stay within a modest memory budget.
var DefaultPasswordCost = PasswordCost{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

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

// passwordWork bounds how many argon2id computations run at once: each takes
// the configured memory, so a burst of sign-ins must queue rather than add up.
type passwordWork chan struct{}

func newPasswordWork() passwordWork { return make(passwordWork, max(1, runtime.GOMAXPROCS(0))) }

// hash hashes password at cost, waiting for a turn.
func (w passwordWork) hash(cost PasswordCost, password string) (string, error) {
	w <- struct{}{}
	defer func() { <-w }()
	return cost.hash(password)
}

// check compares password with hash, waiting for a turn.
func (w passwordWork) check(password, hash string) bool {
	w <- struct{}{}
	defer func() { <-w }()
	return CheckPassword(password, hash)
}
