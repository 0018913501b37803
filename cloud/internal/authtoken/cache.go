package authtoken

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Verifier verifies access tokens (Issuer implements it).
type Verifier interface {
	Verify(token string) (Claims, error)
}

// VerifyCache remembers tokens that verified until they expire, so a rider's app polling with
// the same access token pays the Ed25519 verification and JWT parsing once (it dominated the
// CPU of cheap authenticated requests such as nearby vehicles). Failures are never cached. A
// cached token is exactly as valid as when it verified: access tokens carry no revocation
// besides expiry, and the keyset does not change while the process runs. Safe for concurrent
// use.
type VerifyCache struct {
	v   Verifier
	now func() time.Time
	max int

	mu sync.Mutex
	m  map[[sha256.Size]byte]Claims
}

// NewVerifyCache caches up to max tokens verified by v (when full, the cache starts over);
// now is the clock of v (nil: time.Now).
func NewVerifyCache(v Verifier, max int, now func() time.Time) *VerifyCache {
	if now == nil {
		now = time.Now
	}
	return &VerifyCache{v: v, now: now, max: max, m: make(map[[sha256.Size]byte]Claims)}
}

// Verify returns the token's claims from the cache while they are unexpired, else verifies it.
func (c *VerifyCache) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return c.v.Verify(token) // refused there; not worth hashing
	}
	key := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.Lock()
	cl, ok := c.m[key]
	if ok && !now.Before(cl.ExpiresAt) {
		delete(c.m, key)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return cl, nil
	}
	cl, err := c.v.Verify(token)
	if err != nil {
		return cl, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = cl
	c.mu.Unlock()
	return cl, nil
}
