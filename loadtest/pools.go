package loadtest

import (
	"strconv"
	"sync"
	"time"
)

// keyState is where a key the harness created is in its life.
type keyState int

const (
	keyProbing   keyState = iota // acknowledged; its probes are running
	keyReady                     // passed its later probe: may be revoked
	keyRevoking                  // a key_revoke for it is in flight
	keyRevoked                   // its revocation was acknowledged
	keyUncertain                 // its revocation failed: revoke again after the run
	keyGone                      // the server said NOT_FOUND: nothing left to revoke
)

// harnessKey is an API key the harness created. The secret stays in memory only
// and is never written anywhere.
type harnessKey struct {
	id, secret string
	state      keyState
}

// keyPool tracks every key the harness created during the run.
type keyPool struct {
	mu    sync.Mutex
	byID  map[string]*harnessKey
	order []*harnessKey
	ready []*harnessKey // FIFO of keys that may be revoked
}

func newKeyPool() *keyPool { return &keyPool{byID: map[string]*harnessKey{}} }

func (p *keyPool) add(id, secret string) *harnessKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := &harnessKey{id: id, secret: secret}
	p.byID[id] = k
	p.order = append(p.order, k)
	return k
}

func (p *keyPool) get(id string) *harnessKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byID[id]
}

// setReady makes a probed key available to key_revoke.
func (p *keyPool) setReady(k *harnessKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k.state == keyProbing {
		k.state = keyReady
		p.ready = append(p.ready, k)
	}
}

// takeReady hands the oldest ready key to a key_revoke, or nil when none is.
func (p *keyPool) takeReady() *harnessKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) == 0 {
		return nil
	}
	k := p.ready[0]
	p.ready[0] = nil
	p.ready = p.ready[1:]
	k.state = keyRevoking
	return k
}

func (p *keyPool) set(k *harnessKey, s keyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k.state = s
}

func (p *keyPool) state(k *harnessKey) keyState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return k.state
}

// unrevoked returns the keys that still need a revocation, in creation order.
func (p *keyPool) unrevoked() []*harnessKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*harnessKey
	for _, k := range p.order {
		if k.state != keyRevoked && k.state != keyGone {
			out = append(out, k)
		}
	}
	p.ready = nil
	return out
}

// snapshot returns every key with its state.
func (p *keyPool) snapshot() map[string]keyState {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]keyState, len(p.byID))
	for id, k := range p.byID {
		m[id] = k.state
	}
	return m
}

// pooledToken is an access token token_read may use. label names it in the
// report ("token #12"); the token itself is never written anywhere.
type pooledToken struct {
	label   string
	token   string
	expires time.Time
}

// tokenPool is a ring of the most recently issued access tokens.
type tokenPool struct {
	mu     sync.Mutex
	ring   []pooledToken
	next   int // where the next token goes
	cursor int // where pick looks first
	seq    int
}

// tokenMargin is how long before its expiry a token leaves the pool, so a read
// never races the expiry.
const tokenMargin = 30 * time.Second

func newTokenPool(size int) *tokenPool { return &tokenPool{ring: make([]pooledToken, 0, size)} }

// add puts a token issued at now with a lifetime of ttl into the pool,
// replacing the oldest when the pool is full.
func (p *tokenPool) add(token string, ttl time.Duration, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	t := pooledToken{label: strconv.Itoa(p.seq), token: token, expires: now.Add(ttl)}
	if len(p.ring) < cap(p.ring) {
		p.ring = append(p.ring, t)
		return
	}
	if len(p.ring) == 0 {
		return
	}
	p.ring[p.next] = t
	p.next = (p.next + 1) % len(p.ring)
}

// pick returns the tokens in turn, skipping those about to expire.
func (p *tokenPool) pick(now time.Time) (pooledToken, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range len(p.ring) {
		p.cursor = (p.cursor + 1) % len(p.ring)
		if t := p.ring[p.cursor]; t.expires.After(now.Add(tokenMargin)) {
			return t, true
		}
	}
	return pooledToken{}, false
}
