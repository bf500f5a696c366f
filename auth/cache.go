package auth

import (
	"sync"
	"time"
)

// DefaultCacheTTL bounds how long a verified credential is trusted without asking
// the store again. Changes made through this process invalidate the cache at once;
// changes made through another replica (or the command line) are seen within this
// bound, which is SPEC §11's 100 ms.
const DefaultCacheTTL = 100 * time.Millisecond

// maxCacheEntries caps the cache's memory; past it, an arbitrary entry goes.
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
}

type cacheEntry struct {
	p       Principal
	validTo time.Time // when the entry must be re-checked against the store
}

func newPrincipalCache(ttl time.Duration, observer Observer) *principalCache {
	return &principalCache{ttl: ttl, observer: observer, entries: make(map[string]cacheEntry)}
}

// get returns a copy of the cached principal for digest, if fresh, and the
// generation to pass to put after a store lookup.
func (c *principalCache) get(digest []byte, now time.Time) (*Principal, uint64) {
	if c.ttl <= 0 {
		return nil, 0
	}
	c.mu.RLock()
	e, ok := c.entries[string(digest)]
	gen := c.gen
	c.mu.RUnlock()
	hit := ok && now.Before(e.validTo)
	c.observer.CacheLookup(hit)
	if !hit {
		return nil, gen
	}
	p := e.p
	return &p, gen
}

// put stores p unless the cache was invalidated since gen was read.
func (c *principalCache) put(digest []byte, p *Principal, gen uint64, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	validTo := now.Add(c.ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(validTo) {
		validTo = p.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxCacheEntries {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[string(digest)] = cacheEntry{p: *p, validTo: validTo}
}

// Invalidation names what a committed change may have revoked or narrowed.
// Empty fields match nothing; All matches everything.
type Invalidation struct {
	// CredentialID: an API key, OAuth client (with its tokens) or session.
	CredentialID string
	// OrgID and UserID together: everything a person holds in an organization;
	// UserID alone: everything they hold anywhere.
	OrgID, UserID string
	// TokenID: one access token (jti).
	TokenID string
	// All: every entry (e.g. a signing key was withdrawn).
	All bool
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
	for k, e := range c.entries {
		for _, inv := range invs {
			if inv.matches(&e.p) {
				delete(c.entries, k)
				break
			}
		}
	}
}
