package auth

import (
	"context"
	"runtime"
	"sync/atomic"

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

// passwordWork bounds the argon2id computations running at once (each takes
// the configured memory, and a core) and how many may wait for a turn: past
// that the server answers "busy" at once instead of making every sign-in wait,
// and a waiter whose request is gone leaves the queue.
type passwordWork struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
}

// waitersPerSlot bounds the queue: at the default cost one check takes a few
// tens of milliseconds, so a full queue drains in about a second.
const waitersPerSlot = 32

func newPasswordWork() *passwordWork {
	n := max(1, runtime.GOMAXPROCS(0))
	return &passwordWork{slots: make(chan struct{}, n), maxWaiting: int64(n * waitersPerSlot)}
}

// errPasswordsBusy answers a password check that found the queue full.
var errPasswordsBusy = &Error{Kind: KindRateLimited,
	Message: "too many passwords are being checked at once; try again in a few seconds"}

// turn waits for a slot; release gives it back.
func (w *passwordWork) turn(ctx context.Context) (release func(), err error) {
	release = func() { <-w.slots }
	select {
	case w.slots <- struct{}{}:
		return release, nil
	default:
	}
	if w.waiting.Add(1) > w.maxWaiting {
		w.waiting.Add(-1)
		return nil, errPasswordsBusy
	}
	defer w.waiting.Add(-1)
	select {
	case w.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hash hashes password at cost, waiting for a turn.
func (w *passwordWork) hash(ctx context.Context, cost PasswordCost, password string) (string, error) {
	release, err := w.turn(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return cost.hash(password)
}

// check compares password with hash, waiting for a turn. Passwords longer than
// any this server accepts are refused unchecked, without telling the two apart.
func (w *passwordWork) check(ctx context.Context, password, hash string) (bool, error) {
	release, err := w.turn(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(password, hash) && len(password) <= maxPasswordBytes, nil
}

// outdated reports whether hash was made at another cost than cost, so that it
// is made again, at cost, the next time its password is known.
func (c PasswordCost) outdated(hash string) bool {
	p, _, _, err := argon2id.DecodeHash(hash)
	return err == nil && (p.Memory != c.MemoryKiB || p.Iterations != c.Iterations || p.Parallelism != c.Parallelism)
}
