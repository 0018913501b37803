package authtoken_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/golang-jwt/jwt/v5"
)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func issuer(t *testing.T, ks *authtoken.Keyset, c *clock) *authtoken.Issuer {
	t.Helper()
	iss, err := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestIssueVerifyAndRotation(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	old, err := authtoken.NewKeyset("k1", map[string][]byte{"k1": seed(1)})
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := issuer(t, old, c).Issue("rider-1")
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(c.t.Add(15 * time.Minute)) {
		t.Fatalf("exp %v", exp)
	}
	// Rotation: k2 signs, k1 still verifies.
	rotated, err := authtoken.NewKeyset("k2", map[string][]byte{"k1": seed(1), "k2": seed(2)})
	if err != nil {
		t.Fatal(err)
	}
	ri := issuer(t, rotated, c)
	cl, err := ri.Verify(tok)
	if err != nil || cl.Subject != "rider-1" || cl.KeyID != "k1" {
		t.Fatalf("old token after rotation: %+v %v", cl, err)
	}
	tok2, _, err := ri.Issue("rider-2")
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := ri.Verify(tok2); err != nil || cl.KeyID != "k2" {
		t.Fatalf("new token: %+v %v", cl, err)
	}
	// Retiring k1: its tokens stop verifying.
	retired, err := authtoken.NewKeyset("k2", map[string][]byte{"k2": seed(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := issuer(t, retired, c).Verify(tok); !errors.Is(err, authtoken.ErrInvalidToken) {
		t.Fatalf("retired key: %v", err)
	}
	// A keyset that never had k2 rejects tokens of k2 even though the kid is "k2".
	other, _ := authtoken.NewKeyset("k2", map[string][]byte{"k2": seed(9)})
	if _, err := issuer(t, other, c).Verify(tok2); !errors.Is(err, authtoken.ErrInvalidToken) {
		t.Fatalf("other key with the same id: %v", err)
	}
	// Expiry with the injected clock.
	c.t = c.t.Add(16 * time.Minute)
	if _, err := ri.Verify(tok2); !errors.Is(err, authtoken.ErrExpired) || !errors.Is(err, authtoken.ErrInvalidToken) {
		t.Fatalf("expired: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	ks, _ := authtoken.NewKeyset("k1", map[string][]byte{"k1": seed(1)})
	iss := issuer(t, ks, c)
	good, _, err := iss.Issue("rider-1")
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed(1))
	sign := func(m jwt.SigningMethod, key any, claims jwt.RegisteredClaims, kid string) string {
		tk := jwt.NewWithClaims(m, claims)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := jwt.RegisteredClaims{Issuer: "fleetedge", Subject: "r", Audience: jwt.ClaimStrings{"rider-api"},
		IssuedAt: jwt.NewNumericDate(c.t), ExpiresAt: jwt.NewNumericDate(c.t.Add(time.Minute))}
	with := func(f func(*jwt.RegisteredClaims)) jwt.RegisteredClaims { cl := base; f(&cl); return cl }
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
	cases := map[string]string{
		"empty":           "",
		"garbage":         "a.b.c",
		"tampered":        tampered,
		"alg none":        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base, "k1"),
		"hs256 confusion": sign(jwt.SigningMethodHS256, []byte(priv.Public().(ed25519.PublicKey)), base, "k1"),
		"no kid":          sign(jwt.SigningMethodEdDSA, priv, base, ""),
		"unknown kid":     sign(jwt.SigningMethodEdDSA, priv, base, "k9"),
		"wrong issuer":    sign(jwt.SigningMethodEdDSA, priv, with(func(c *jwt.RegisteredClaims) { c.Issuer = "evil" }), "k1"),
		"wrong audience":  sign(jwt.SigningMethodEdDSA, priv, with(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"admin-api"} }), "k1"),
		"no expiry":       sign(jwt.SigningMethodEdDSA, priv, with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil }), "k1"),
		"no subject":      sign(jwt.SigningMethodEdDSA, priv, with(func(c *jwt.RegisteredClaims) { c.Subject = "" }), "k1"),
		"issued in future": sign(jwt.SigningMethodEdDSA, priv, with(func(c2 *jwt.RegisteredClaims) {
			c2.IssuedAt = jwt.NewNumericDate(c.t.Add(time.Hour))
			c2.ExpiresAt = jwt.NewNumericDate(c.t.Add(2 * time.Hour))
		}), "k1"),
		"oversized": strings.Repeat("a", 5000),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := iss.Verify(tok)
			if !errors.Is(err, authtoken.ErrInvalidToken) {
				t.Fatalf("want ErrInvalidToken, got %v", err)
			}
			if tok != "" && len(tok) < 4096 && strings.Contains(err.Error(), tok) {
				t.Fatal("error message contains the token")
			}
		})
	}
	// The hand-signed base token is accepted: the cases above fail for their own reason.
	if _, err := iss.Verify(sign(jwt.SigningMethodEdDSA, priv, base, "k1")); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func TestKeysetConfig(t *testing.T) {
	s, err := authtoken.GenerateSeed()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := authtoken.ParseKeyset("b", "a:"+s+", b:"+s)
	if err != nil || ks.CurrentKeyID() != "b" || len(ks.KeyIDs()) != 2 {
		t.Fatalf("%v %v", ks, err)
	}
	if strings.Contains(ks.String(), s) {
		t.Fatal("String shows key material")
	}
	for name, spec := range map[string][2]string{
		"missing current": {"c", "a:" + s},
		"bad base64":      {"a", "a:!!!"},
		"short seed":      {"a", "a:AAAA"},
		"no colon":        {"a", "a"},
		"empty":           {"a", ""},
		"bad id":          {"a b", "a b:" + s},
		"duplicate":       {"a", "a:" + s + ",a:" + s},
	} {
		if _, err := authtoken.ParseKeyset(spec[0], spec[1]); !errors.Is(err, authtoken.ErrKeyset) {
			t.Errorf("%s: %v", name, err)
		} else if strings.Contains(err.Error(), s) {
			t.Errorf("%s: error shows key material", name)
		}
	}
}

func TestRefreshToken(t *testing.T) {
	tok, h, err := authtoken.NewRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != authtoken.RefreshTokenLen || len(h) != 32 {
		t.Fatalf("%q %x", tok, h)
	}
	h2, err := authtoken.HashRefreshToken(tok)
	if err != nil || !bytes.Equal(h, h2) {
		t.Fatalf("rehash: %x %v", h2, err)
	}
	tok2, _, _ := authtoken.NewRefreshToken()
	if tok2 == tok {
		t.Fatal("tokens repeat")
	}
	for _, bad := range []string{"", "short", strings.Repeat("*", 43), strings.Repeat("a", 44), "' OR 1=1 --" + strings.Repeat("a", 32)} {
		if _, err := authtoken.HashRefreshToken(bad); !errors.Is(err, authtoken.ErrRefreshToken) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
