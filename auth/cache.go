package auth

import (
	"encoding/hex"
	"sync"
	"time"
)

// DefaultCacheTTL bounds how long a verified credential is trusted without asking
// the store again. Changes made through this process invalidate the cache at once;
// changes made through another replica (or the command line) are seen within this
// bound, which is SPEC §11's 100 ms.
const DefaultCacheTTL = 100 * time.Millisecond

// maxCacheEntries caps the cache's memory, for working credentials and for
// refusals each; past it, an arbitrary entry of the same kind goes.
const maxCacheEntries = 10000

// principalCache remembers recently verified credentials by digest, so that a hot
// key costs a hash and a map lookup instead of a database round trip. It never
// holds a secret: keys are SHA-256 digests.
//
// Correctness rests on a generation counter: every change that can revoke or
// weaken a credential, once committed, drops the entries it affects and bumps the
// generation, and a lookup that began under an older generation may not store its
// result. So once a revoking call returns, no request started afterwards can be
// served from a stale entry.
type principalCache struct {
	ttl      time.Duration
	observer Observer
	mu       sync.RWMutex
	gen      uint64
	entries  map[string]cacheEntry
	// refusals are kept apart, under a cap of their own, so that a flood of
	// bad credentials (cheap to make) cannot evict working ones.
	refusals map[string]cacheEntry
}

type cacheEntry struct {
	p Principal
	// refusal, when set, is the answer instead: the credential is unknown,
	// revoked or expired (a negative entry).
	refusal *Error
	validTo time.Time // when the entry must be re-checked against the store
}

func newPrincipalCache(ttl time.Duration, observer Observer) *principalCache {
	return &principalCache{ttl: ttl, observer: observer,
		entries: make(map[string]cacheEntry), refusals: make(map[string]cacheEntry)}
}

// get returns the cached answer for digest, if fresh (hit): a copy of the
// principal, or the refusal of a credential known to be unknown, revoked or
// expired. It also returns the generation to pass to put after a store lookup.
func (c *principalCache) get(digest []byte, now time.Time) (p *Principal, hit bool, gen uint64, refusal error) {
	if c.ttl <= 0 {
		return nil, false, 0, nil
	}
	c.mu.RLock()
	e, ok := c.entries[string(digest)]
	if !ok {
		e, ok = c.refusals[string(digest)]
	}
	gen = c.gen
	c.mu.RUnlock()
	hit = ok && now.Before(e.validTo)
	c.observer.CacheLookup(hit)
	switch {
	case !hit:
		return nil, false, gen, nil
	case e.refusal != nil:
		return nil, true, gen, e.refusal
	}
	cp := e.p
	return &cp, true, gen, nil
}

// put stores p unless the cache was invalidated since gen was read.
func (c *principalCache) put(digest []byte, p *Principal, gen uint64, now time.Time) {
	validTo := now.Add(c.ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(validTo) {
		validTo = p.ExpiresAt
	}
	c.store(digest, cacheEntry{p: *p, validTo: validTo}, gen)
}

// lastingRefusal is how long the refusal of a credential the store does not
// have is kept: a repeated unknown credential then costs a map lookup.
const lastingRefusal = time.Minute

// refuse stores a refusal, so that a repeated bad credential costs one store
// lookup per interval, not one per request. Nothing makes a credential the
// store lacks known later (secrets are random, never presented before they
// exist; a creation forgets its own digest anyway), so with lasting its
// refusal is kept for lastingRefusal. Other refusals (revoked, expired, a
// session without an organization) keep the bound of a positive entry.
func (c *principalCache) refuse(digest []byte, refusal *Error, gen uint64, now time.Time, lasting bool) {
	ttl := c.ttl
	if lasting {
		ttl = max(ttl, lastingRefusal)
	}
	c.store(digest, cacheEntry{refusal: refusal, validTo: now.Add(ttl)}, gen)
}

func (c *principalCache) store(digest []byte, e cacheEntry, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	m := c.entries
	if e.refusal != nil {
		m = c.refusals
	}
	if len(m) >= maxCacheEntries {
		for k := range m {
			delete(m, k)
			break
		}
	}
	m[string(digest)] = e
}

// Invalidation names what a committed change may have revoked or narrowed.
// Empty fields match nothing; All matches everything.
type Invalidation struct {
	// CredentialID: an API key, OAuth client (with its tokens) or session.
	CredentialID string `json:"c,omitempty"`
	// OrgID and UserID together: everything a person holds in an organization;
	// UserID alone: everything they hold anywhere.
	OrgID  string `json:"o,omitempty"`
	UserID string `json:"u,omitempty"`
	// TokenID: one access token (jti).
	TokenID string `json:"t,omitempty"`
	// All: every entry (e.g. a signing key was withdrawn).
	All bool `json:"a,omitempty"`
	// SigningKeys: the signing keys changed; read them again.
	SigningKeys bool `json:"k,omitempty"`
	// Digest (hex): the entry of one credential, e.g. a new one that a
	// refusal may have been cached for. It is not announced to other
	// replicas: no one could have presented a credential before it existed,
	// so only this replica's own answers (a refusal for a digest racing the
	// creation) need forgetting.
	Digest string `json:"-"`
}

func (inv Invalidation) matches(p *Principal) bool {
	return inv.All ||
		(inv.CredentialID != "" && p.CredentialID == inv.CredentialID) ||
		(inv.UserID != "" && p.UserID == inv.UserID && (inv.OrgID == "" || p.OrgID == inv.OrgID)) ||
		(inv.TokenID != "" && p.TokenID == inv.TokenID)
}

// forget drops the entries the invalidations match and fences out lookups
// already under way, which may have read the state from before the change.
func (c *principalCache) forget(invs ...Invalidation) {
	if len(invs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, inv := range invs {
		if inv.All {
			clear(c.refusals)
		}
		if inv.Digest != "" {
			if d, err := hex.DecodeString(inv.Digest); err == nil {
				delete(c.entries, string(d))
				delete(c.refusals, string(d))
			}
		}
	}
	for k, e := range c.entries {
		for _, inv := range invs {
			if inv.matches(&e.p) {
				delete(c.entries, k)
				break
			}
		}
	}
}

// hexDigest is how an Invalidation names a digest.
func hexDigest(d []byte) string { return hex.EncodeToString(d) }
