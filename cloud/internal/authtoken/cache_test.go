package authtoken_test

import (
	"errors"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
)

// countingVerifier counts the verifications that reach the issuer.
type countingVerifier struct {
	v authtoken.Verifier
	n int
}

func (c *countingVerifier) Verify(tok string) (authtoken.Claims, error) {
	c.n++
	return c.v.Verify(tok)
}

func TestVerifyCache(t *testing.T) {
	ks, err := authtoken.NewKeyset("k1", map[string][]byte{"k1": seed(1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	iss := issuer(t, ks, c)
	inner := &countingVerifier{v: iss}
	cache := authtoken.NewVerifyCache(inner, 2, c.Now)

	tok, exp, err := iss.Issue("rider-1")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		cl, err := cache.Verify(tok)
		if err != nil || cl.Subject != "rider-1" {
			t.Fatalf("verify: %+v %v", cl, err)
		}
	}
	if inner.n != 1 {
		t.Fatalf("%d verifications for one token, want 1 (then cached)", inner.n)
	}

	// Failures are not cached: a tampered token is checked every time and refused.
	bad := tok[:len(tok)-2] + "xx"
	for range 2 {
		if _, err := cache.Verify(bad); !errors.Is(err, authtoken.ErrInvalidToken) {
			t.Fatalf("tampered: %v", err)
		}
	}
	if inner.n != 3 {
		t.Fatalf("%d verifications, want 3 (failures reach the issuer)", inner.n)
	}

	// At expiry the cached claims are dropped and the issuer refuses the token.
	c.t = exp
	if _, err := cache.Verify(tok); !errors.Is(err, authtoken.ErrExpired) {
		t.Fatalf("expired token from the cache: %v", err)
	}

	// Bounded: beyond max entries the cache starts over (still answering correctly).
	c.t = exp.Add(-time.Hour)
	for _, sub := range []string{"a", "b", "c"} {
		tk, _, err := iss.Issue(sub)
		if err != nil {
			t.Fatal(err)
		}
		if cl, err := cache.Verify(tk); err != nil || cl.Subject != sub {
			t.Fatalf("verify %s: %+v %v", sub, cl, err)
		}
	}
}
