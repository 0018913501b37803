package fieldui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// session is a logged-in technician, kept only in the gateway's memory: a
// restart logs everybody out (acceptable for a field tool, and nothing
// secret is ever written to disk).
type session struct {
	id       string
	user     Principal
	csrf     string // synchronizer token: sent back in X-CSRF-Token on every state change
	created  time.Time
	lastSeen time.Time
}

// sessions is the server-side session table. mu guards every field.
type sessions struct {
	mu      sync.Mutex
	byID    map[string]*session
	idle    time.Duration
	maxAge  time.Duration
	maxSize int
}

func newSessions(idle, maxAge time.Duration, maxSize int) *sessions {
	return &sessions{byID: map[string]*session{}, idle: idle, maxAge: maxAge, maxSize: maxSize}
}

// randomToken returns 256 random bits, URL-safe base64.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("fieldui: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *sessions) expired(x *session, now time.Time) bool {
	return now.Sub(x.lastSeen) >= s.idle || now.Sub(x.created) >= s.maxAge
}

// create starts a session for p.
func (s *sessions) create(p Principal, now time.Time) (*session, error) {
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	x := &session{id: id, user: p, csrf: csrf, created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.maxSize {
		s.purgeLocked(now)
		if len(s.byID) >= s.maxSize { // still full: drop the least recently used
			var oldest *session
			for _, o := range s.byID {
				if oldest == nil || o.lastSeen.Before(oldest.lastSeen) {
					oldest = o
				}
			}
			delete(s.byID, oldest.id)
		}
	}
	s.byID[id] = x
	c := *x
	return &c, nil
}

func (s *sessions) purgeLocked(now time.Time) {
	for id, x := range s.byID {
		if s.expired(x, now) {
			delete(s.byID, id)
		}
	}
}

// get returns a copy of a live session and refreshes its idle timer.
func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byID[id]
	if !ok {
		return session{}, false
	}
	if s.expired(x, now) {
		delete(s.byID, id)
		return session{}, false
	}
	x.lastSeen = now
	return *x, true
}

// alive reports whether a session is still live, without refreshing it.
func (s *sessions) alive(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byID[id]
	return ok && !s.expired(x, now)
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// csrfOK compares the presented token with the session's in constant time.
func (x *session) csrfOK(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(x.csrf)) == 1
}

// limiter counts events per key in fixed windows: at most max per window.
// Used for login attempts per client address and failures per username.
// mu guards keys; the map is purged of ended windows when it grows.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	keys   map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, keys: map[string]*bucket{}}
}

// blocked reports whether key has used up its window, and when it frees.
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil || now.Sub(b.start) >= l.window {
		return false, 0
	}
	if b.n >= l.max {
		return true, b.start.Add(l.window).Sub(now)
	}
	return false, 0
}

// add counts one event for key.
func (l *limiter) add(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) > 10000 {
		for k, b := range l.keys {
			if now.Sub(b.start) >= l.window {
				delete(l.keys, k)
			}
		}
	}
	b := l.keys[key]
	if b == nil || now.Sub(b.start) >= l.window {
		b = &bucket{start: now}
		l.keys[key] = b
	}
	b.n++
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}
