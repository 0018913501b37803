package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
)

func TestParseEmail(t *testing.T) {
	ok := map[string]string{
		"  Ana.Garcia@Example.COM ": "ana.garcia@example.com",
		"a+tag@sub.example.es":      "a+tag@sub.example.es",
		"JOSÉ@correo.es":            "josé@correo.es",
		"jose\u0301@correo.es":      "jos\u00e9@correo.es", // NFC: e + combining acute → é
		"x@münchen.de":              "x@münchen.de",
	}
	for in, want := range ok {
		got, err := account.ParseEmail(in)
		if err != nil || string(got) != want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", "   ", "ana", "ana@", "@example.com", "ana@example", "a@b@c.com", "ana garcia@example.com",
		"ana@exa mple.com", "ana@-example.com", "ana@example.123", "ana..b@example.com", ".ana@example.com",
		"ana@example..com", "\"ana\"@example.com", "ana@exam_ple.com", strings.Repeat("a", 65) + "@example.com",
		"a@" + strings.Repeat("b", 250) + ".com", "ana\x00@example.com", "ana@example.com'; DROP TABLE riders;--",
		"\xff@example.com", strings.Repeat("x", 10000)}
	for _, in := range bad {
		if _, err := account.ParseEmail(in); !errors.Is(err, account.ErrInvalidEmail) || !errors.Is(err, account.ErrInvalidInput) {
			t.Errorf("ParseEmail(%q) = %v, want ErrInvalidEmail", in, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	email := account.Email("ana.garcia@example.com")
	for _, pw := range []string{"correct horse battery", "Tr0ub4dor&3x", "contraseña-larga", "ñññññññññá"} {
		if err := account.CheckPassword(pw, email); err != nil {
			t.Errorf("%q rejected: %v", pw, err)
		}
	}
	for name, pw := range map[string]string{
		"short":        "abc123!",
		"nine":         "123456789",
		"same char":    "aaaaaaaaaaaa",
		"same unicode": "éééééééééééé",
		"sequence":     "0123456789",
		"sequence2":    "abcdefghijkl",
		"descending":   "9876543210",
		"common":       "Password123",
		"common2":      "QWERTYUIOP",
		"has email":    "xxana.garciaxx",
		"too long":     strings.Repeat("ab", 65),
		"too many b":   strings.Repeat("ñ", 300),
		"invalid utf8": "abcdefghi\xff",
	} {
		err := account.CheckPassword(pw, email)
		var fe *account.FieldError
		if !errors.Is(err, account.ErrWeakPassword) || !errors.As(err, &fe) || fe.Field != "password" {
			t.Errorf("%s: %v", name, err)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error contains the password", name)
		}
	}
}

func TestParseNameAndPhone(t *testing.T) {
	if n, err := account.ParseName("first_name", "  Ana María "); err != nil || n != "Ana María" {
		t.Fatalf("%q %v", n, err)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("a", 101), "Ana\nMaría", "\x00"} {
		if _, err := account.ParseName("first_name", bad); !errors.Is(err, account.ErrInvalidName) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	for in, want := range map[string]string{"+34 600 111 222": "+34600111222", "+1 (415) 555-0100": "+14155550100", "+44.20.7946.0958": "+442079460958"} {
		if got, err := account.ParsePhone(in); err != nil || got != want {
			t.Errorf("phone %q = %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"600111222", "+34", "+0123456789", "+34 600 111 222 333 444", "+34-600-abc", "++34600111222", strings.Repeat("1", 100)} {
		if _, err := account.ParsePhone(bad); !errors.Is(err, account.ErrInvalidPhone) {
			t.Errorf("phone %q: %v", bad, err)
		}
	}
}

// fastParams keep tests quick; the defaults are measured by the benchmark.
func fastParams() account.Argon2Params {
	return account.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h, err := account.NewHasher(fastParams(), 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(enc, "correct") {
		t.Fatalf("encoded %q", enc)
	}
	if ok, err := h.Verify(ctx, "correct horse battery", enc); !ok || err != nil {
		t.Fatalf("verify right: %v %v", ok, err)
	}
	if ok, err := h.Verify(ctx, "correct horse batterY", enc); ok || err != nil {
		t.Fatalf("verify wrong: %v %v", ok, err)
	}
	// NFC: the decomposed form of the same password matches.
	enc2, _ := h.Hash(ctx, "contraseña-larga")
	if ok, _ := h.Verify(ctx, "contrasen\u0303a-larga", enc2); !ok {
		t.Fatal("NFD form of the password does not verify")
	}
	if err := h.VerifyDummy(ctx, "anything"); err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(enc) {
		t.Fatal("fresh hash needs rehash")
	}
	h2, _ := account.NewHasher(account.Argon2Params{MemoryKiB: 2048, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if !h2.NeedsRehash(enc) {
		t.Fatal("hash with old parameters does not need rehash")
	}
	if ok, err := h2.Verify(ctx, "correct horse battery", enc); !ok || err != nil {
		t.Fatal("old-parameter hash no longer verifies")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=1024,t=99,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$aGFzaA", "$argon2id$v=16$m=1024,t=1,p=1$c2FsdA$aGFzaA"} {
		if _, err := h.Verify(ctx, "x", bad); !errors.Is(err, account.ErrHashFormat) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := account.NewHasher(account.Argon2Params{MemoryKiB: 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1); err == nil {
		t.Fatal("tiny memory accepted")
	}
}

func TestHasherHonoursContextWhenBusy(t *testing.T) {
	h, err := account.NewHasher(fastParams(), 1)
	if err != nil {
		t.Fatal(err)
	}
	release := account.HoldHashSlot(h)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "correct horse battery"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("busy hasher: %v, want deadline exceeded", err)
	}
	if _, err := h.Verify(ctx, "x", "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("busy hasher verify: %v", err)
	}
	release()
	if _, err := h.Hash(context.Background(), "correct horse battery"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// BenchmarkHashDefault measures one argon2id hash with the default parameters (the cost of a
// sign-up, and of a login's verification).
func BenchmarkHashDefault(b *testing.B) {
	h, err := account.NewHasher(account.DefaultArgon2Params(), 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}
