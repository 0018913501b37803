package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
)

// FuzzParseInput feeds arbitrary strings to every input parser: no panic, a typed error or a
// normalised value that parses to itself again.
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{"Ana@Example.com", " a+b@x.es ", "jose\u0301@x.es", "@", "a@b", "+34 600 111 222",
		"correct horse battery", "aaaaaaaaaa", "0123456789", "\xff", strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := account.ParseEmail(s); err == nil {
			if len(e) > account.MaxEmailBytes || !utf8.ValidString(string(e)) || strings.Count(string(e), "@") != 1 {
				t.Fatalf("accepted %q as %q", s, e)
			}
			if again, err := account.ParseEmail(string(e)); err != nil || again != e {
				t.Fatalf("not idempotent: %q -> %q -> %q %v", s, e, again, err)
			}
		} else if !errors.Is(err, account.ErrInvalidEmail) {
			t.Fatalf("untyped error %v", err)
		}
		if err := account.CheckPassword(s, "ana@example.com"); err != nil && !errors.Is(err, account.ErrWeakPassword) {
			t.Fatalf("untyped error %v", err)
		}
		if n, err := account.ParseName("first_name", s); err == nil {
			if again, err := account.ParseName("first_name", n); err != nil || again != n {
				t.Fatalf("name not idempotent: %q", s)
			}
		} else if !errors.Is(err, account.ErrInvalidName) {
			t.Fatalf("untyped error %v", err)
		}
		if p, err := account.ParsePhone(s); err == nil {
			if again, err := account.ParsePhone(p); err != nil || again != p {
				t.Fatalf("phone not idempotent: %q", s)
			}
		} else if !errors.Is(err, account.ErrInvalidPhone) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// FuzzVerifyHash feeds arbitrary stored-hash strings to the PHC parser and Verify: no panic,
// only typed errors.
func FuzzVerifyHash(f *testing.F) {
	h, err := account.NewHasher(fastParams(), 2)
	if err != nil {
		f.Fatal(err)
	}
	good, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA")
	f.Fuzz(func(t *testing.T, enc string) {
		// NeedsRehash parses enc (bounded parameters or ErrHashFormat); only hashes with the
		// current, cheap parameters are worth running argon2 on inside a fuzz loop.
		if h.NeedsRehash(enc) {
			return
		}
		if _, err := h.Verify(context.Background(), "correct horse battery", enc); err != nil && !errors.Is(err, account.ErrHashFormat) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
