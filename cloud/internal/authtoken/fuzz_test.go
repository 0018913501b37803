package authtoken_test

import (
	"errors"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
)

// FuzzVerify: arbitrary strings never panic Verify and never verify unless they are a token
// this issuer signed.
func FuzzVerify(f *testing.F) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	ks, err := authtoken.NewKeyset("k1", map[string][]byte{"k1": seed(1)})
	if err != nil {
		f.Fatal(err)
	}
	iss, err := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", Now: c.Now})
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := iss.Issue("rider-1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		cl, err := iss.Verify(tok)
		if err != nil {
			if !errors.Is(err, authtoken.ErrInvalidToken) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if cl.Subject != "rider-1" || cl.KeyID != "k1" {
			t.Fatalf("verified a token this issuer did not sign: %+v", cl)
		}
	})
}
