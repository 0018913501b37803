package fieldcrypt_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, fieldcrypt.KeySize) }

func mustKeyring(t testing.TB, current string, keys map[string][]byte) *fieldcrypt.Keyring {
	t.Helper()
	k, err := fieldcrypt.NewKeyring(current, keys)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": key(1)})
	ctx := []byte("riders.phone_ciphertext:42")
	for _, pt := range [][]byte{nil, []byte("+34 600 000 000"), bytes.Repeat([]byte("x"), 10_000)} {
		s, err := k.Seal(pt, ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.KeyID != "k1" {
			t.Fatalf("KeyID = %q, want k1", s.KeyID)
		}
		if len(pt) > 4 && bytes.Contains(s.Ciphertext, pt) {
			t.Fatal("ciphertext contains the plaintext")
		}
		got, err := k.Open(s, ctx)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip: got %q, want %q", got, pt)
		}
	}
}

func TestNonceIsFreshPerValue(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": key(1)})
	a, _ := k.Seal([]byte("same"), nil)
	b, _ := k.Seal([]byte("same"), nil)
	if bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("two seals of the same value are identical: nonce reused")
	}
}

func TestTamperDetection(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": key(1), "k0": key(9)})
	ctx := []byte("payment_methods.token_ciphertext:7")
	s, err := k.Seal([]byte("tok_visa_4242"), ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Flipping any single bit anywhere is detected.
	for i := range s.Ciphertext {
		for bit := range 8 {
			c := bytes.Clone(s.Ciphertext)
			c[i] ^= 1 << bit
			_, err := k.Open(fieldcrypt.Sealed{KeyID: s.KeyID, Ciphertext: c}, ctx)
			if !errors.Is(err, fieldcrypt.ErrDecrypt) && !errors.Is(err, fieldcrypt.ErrMalformed) {
				t.Fatalf("byte %d bit %d flipped: err = %v, want ErrDecrypt", i, bit, err)
			}
		}
	}
	tests := []struct {
		name string
		s    fieldcrypt.Sealed
		ctx  []byte
		want error
	}{
		{"other row's context", s, []byte("payment_methods.token_ciphertext:8"), fieldcrypt.ErrDecrypt},
		{"no context", s, nil, fieldcrypt.ErrDecrypt},
		{"relabelled with another known key", fieldcrypt.Sealed{KeyID: "k0", Ciphertext: s.Ciphertext}, ctx, fieldcrypt.ErrDecrypt},
		{"truncated", fieldcrypt.Sealed{KeyID: "k1", Ciphertext: s.Ciphertext[:len(s.Ciphertext)-1]}, ctx, fieldcrypt.ErrDecrypt},
		{"too short", fieldcrypt.Sealed{KeyID: "k1", Ciphertext: s.Ciphertext[:20]}, ctx, fieldcrypt.ErrMalformed},
		{"empty", fieldcrypt.Sealed{KeyID: "k1"}, ctx, fieldcrypt.ErrMalformed},
		{"unknown version", fieldcrypt.Sealed{KeyID: "k1", Ciphertext: append([]byte{2}, s.Ciphertext[1:]...)}, ctx, fieldcrypt.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := k.Open(tc.s, tc.ctx); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	ctx := []byte("admins.totp_ciphertext:1")
	old := mustKeyring(t, "2025", map[string][]byte{"2025": key(1)})
	s, err := old.Seal([]byte("JBSWY3DPEHPK3PXP"), ctx)
	if err != nil {
		t.Fatal(err)
	}
	// New key becomes current; the old one stays for reading.
	rotated := mustKeyring(t, "2026", map[string][]byte{"2025": key(1), "2026": key(2)})
	if !rotated.NeedsRotation(s) {
		t.Fatal("value under the old key does not need rotation")
	}
	if got, err := rotated.Open(s, ctx); err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("old value under the new keyring: %q, %v", got, err)
	}
	s2, err := rotated.Rotate(s, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID != "2026" || rotated.NeedsRotation(s2) {
		t.Fatalf("rotated value under %q", s2.KeyID)
	}
	// Once every row is rotated the old key can go.
	retired := mustKeyring(t, "2026", map[string][]byte{"2026": key(2)})
	if got, err := retired.Open(s2, ctx); err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("rotated value after retiring the old key: %q, %v", got, err)
	}
	if _, err := retired.Open(s, ctx); !errors.Is(err, fieldcrypt.ErrUnknownKeyID) {
		t.Fatalf("unrotated value after retiring its key: err = %v, want ErrUnknownKeyID", err)
	}
	if _, err := retired.Rotate(s, ctx); !errors.Is(err, fieldcrypt.ErrUnknownKeyID) {
		t.Fatalf("Rotate of an unknown key id: err = %v, want ErrUnknownKeyID", err)
	}
}

func TestKeyringConfig(t *testing.T) {
	k1, err := fieldcrypt.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	short := base64.StdEncoding.EncodeToString(key(1)[:16])
	tests := []struct {
		name    string
		current string
		keys    map[string]string
		want    error
	}{
		{"ok", "a", map[string]string{"a": k1}, nil},
		{"current missing", "b", map[string]string{"a": k1}, fieldcrypt.ErrInvalidKey},
		{"no keys", "a", nil, fieldcrypt.ErrInvalidKey},
		{"not base64", "a", map[string]string{"a": "%%%"}, fieldcrypt.ErrInvalidKey},
		{"AES-128 key", "a", map[string]string{"a": short}, fieldcrypt.ErrInvalidKey},
		{"bad key id", "a b", map[string]string{"a b": k1}, fieldcrypt.ErrInvalidKey},
		{"empty key id", "", map[string]string{"": k1}, fieldcrypt.ErrInvalidKey},
		{"long key id", strings.Repeat("a", 65), map[string]string{strings.Repeat("a", 65): k1}, fieldcrypt.ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fieldcrypt.ParseKeyring(tc.current, tc.keys)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), k1) {
				t.Fatal("error message leaks key material")
			}
		})
	}

	keys, err := fieldcrypt.ParseKeySpec(" old:" + k1 + ", new:" + k1)
	if err != nil || len(keys) != 2 || keys["old"] != k1 {
		t.Fatalf("ParseKeySpec: %v, %v", keys, err)
	}
	if _, err := fieldcrypt.ParseKeySpec("nocolon"); !errors.Is(err, fieldcrypt.ErrInvalidKey) {
		t.Fatalf("ParseKeySpec without colon: %v", err)
	}
	if _, err := fieldcrypt.ParseKeySpec("a:x,a:y"); !errors.Is(err, fieldcrypt.ErrInvalidKey) {
		t.Fatalf("ParseKeySpec duplicate: %v", err)
	}
	k, err := fieldcrypt.ParseKeyring("new", keys)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(k) + fmt.Sprint(k.LogValue()); strings.Contains(s, k1) || !strings.Contains(s, "new") {
		t.Fatalf("String/LogValue = %q: must name keys, never show them", s)
	}
}

// FuzzOpen: arbitrary stored bytes never panic and never open without the right key.
func FuzzOpen(f *testing.F) {
	k, err := fieldcrypt.NewKeyring("k1", map[string][]byte{"k1": key(1)})
	if err != nil {
		f.Fatal(err)
	}
	s, _ := k.Seal([]byte("+34600000000"), []byte("c"))
	f.Add("k1", s.Ciphertext, []byte("c"))
	f.Add("k2", []byte{1, 2, 3}, []byte(nil))
	f.Fuzz(func(t *testing.T, keyID string, ct, ctx []byte) {
		pt, err := k.Open(fieldcrypt.Sealed{KeyID: keyID, Ciphertext: ct}, ctx)
		if err == nil && (keyID != "k1" || len(ct) < 29) {
			t.Fatalf("opened %q under key %q", pt, keyID)
		}
	})
}
