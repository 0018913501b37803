package loginguard

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the entries of one Limiter or Lockout.
const DefaultMaxKeys = 100_000

// Rate is a token bucket: Burst tokens, refilled at PerMinute tokens per minute.
type Rate struct {
	PerMinute float64
	Burst     int
}

// Validate checks the rate is usable.
func (r Rate) Validate() error {
	if r.PerMinute <= 0 || math.IsNaN(r.PerMinute) || math.IsInf(r.PerMinute, 0) || r.Burst < 1 {
		return fmt.Errorf("loginguard: rate needs per_minute > 0 and burst >= 1, got %v/min burst %d", r.PerMinute, r.Burst)
	}
	return nil
}

// Policy is the whole configuration of the rider API's guards.
type Policy struct {
	LoginPerIP      Rate
	SignupPerIP     Rate
	RefreshPerIP    Rate
	LoginPerAccount Rate
	// LockoutAfter consecutive failures lock an account for LockoutBase, doubling per further
	// failure up to LockoutMax.
	LockoutAfter int
	LockoutBase  time.Duration
	LockoutMax   time.Duration
	// LockoutForget drops a failure count after this long without a new failure.
	LockoutForget time.Duration
	MaxKeys       int
}

// DefaultPolicy is the policy documented in the package comment.
func DefaultPolicy() Policy {
	return Policy{
		LoginPerIP:      Rate{PerMinute: 10, Burst: 10},
		SignupPerIP:     Rate{PerMinute: 5, Burst: 5},
		RefreshPerIP:    Rate{PerMinute: 60, Burst: 30},
		LoginPerAccount: Rate{PerMinute: 5, Burst: 5},
		LockoutAfter:    5,
		LockoutBase:     time.Minute,
		LockoutMax:      time.Hour,
		LockoutForget:   24 * time.Hour,
		MaxKeys:         DefaultMaxKeys,
	}
}

// Validate checks every field.
func (p Policy) Validate() error {
	for _, r := range []Rate{p.LoginPerIP, p.SignupPerIP, p.RefreshPerIP, p.LoginPerAccount} {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	if p.LockoutAfter < 1 || p.LockoutBase <= 0 || p.LockoutMax < p.LockoutBase || p.LockoutForget <= 0 || p.MaxKeys < 1 {
		return fmt.Errorf("loginguard: lockout needs after >= 1, 0 < base <= max, forget > 0, max keys >= 1")
	}
	return nil
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Limiter is a set of token buckets by key (an IP, an email).
type Limiter struct {
	rate    Rate
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

// NewLimiter returns a limiter of rate per key; now is the clock.
func NewLimiter(rate Rate, maxKeys int, now func() time.Time) (*Limiter, error) {
	if err := rate.Validate(); err != nil {
		return nil, err
	}
	if maxKeys < 1 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, now: now, maxKeys: maxKeys, buckets: map[string]*bucket{}}, nil
}

func (l *Limiter) perSecond() float64 { return l.rate.PerMinute / 60 }

// Allow takes one token from key's bucket. When empty it returns false and how long until a
// token is available.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perSecond() * float64(time.Second))
	return false, wait
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+dt*l.perSecond())
	}
	b.last = now
}

// sweep drops full buckets (they behave like absent ones), then arbitrary ones down to 90 %.
// l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= float64(l.rate.Burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys*9/10 {
			break
		}
		delete(l.buckets, k)
	}
}

// Len is the number of keys held (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

type lockState struct {
	failures    int
	lockedUntil time.Time
	lastFailure time.Time
}

// Lockout counts consecutive failed logins by key and locks the key with exponential backoff.
type Lockout struct {
	after           int
	base, max, keep time.Duration
	now             func() time.Time
	maxKeys         int

	mu      sync.Mutex
	entries map[string]*lockState
}

// NewLockout returns a lockout with p's lockout settings.
func NewLockout(p Policy, now func() time.Time) (*Lockout, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Lockout{after: p.LockoutAfter, base: p.LockoutBase, max: p.LockoutMax, keep: p.LockoutForget,
		now: now, maxKeys: p.MaxKeys, entries: map[string]*lockState{}}, nil
}

// Check reports whether key is locked now and for how much longer.
func (l *Lockout) Check(key string) (locked bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok || !now.Before(e.lockedUntil) {
		return false, 0
	}
	return true, e.lockedUntil.Sub(now)
}

// Fail records a failed login for key and returns how long key is now locked (0 if not).
func (l *Lockout) Fail(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if ok && now.Sub(e.lastFailure) > l.keep {
		e.failures = 0
	}
	if !ok {
		if len(l.entries) >= l.maxKeys {
			l.sweep(now)
		}
		e = &lockState{}
		l.entries[key] = e
	}
	e.failures++
	e.lastFailure = now
	if e.failures < l.after {
		return 0
	}
	d := l.base
	for i := l.after; i < e.failures && d < l.max; i++ {
		d *= 2
	}
	d = min(d, l.max)
	e.lockedUntil = now.Add(d)
	return d
}

// Succeed forgets key's failures (a correct password while not locked).
func (l *Lockout) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// sweep drops entries neither locked nor recent, then arbitrary ones. l.mu is held.
func (l *Lockout) sweep(now time.Time) {
	for k, e := range l.entries {
		if !now.Before(e.lockedUntil) && now.Sub(e.lastFailure) > l.keep {
			delete(l.entries, k)
		}
	}
	for k := range l.entries {
		if len(l.entries) < l.maxKeys*9/10 {
			break
		}
		delete(l.entries, k)
	}
}
