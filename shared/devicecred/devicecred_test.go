package devicecred

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateVerify(t *testing.T) {
	s1, h1, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	s2, h2, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if s1 == s2 || h1 == h2 {
		t.Fatal("two generated secrets are equal")
	}
	if len(s1) != 43 || !strings.HasPrefix(h1, "sha256:") || len(h1) != 71 {
		t.Fatalf("shape: secret %q hash %q", s1, h1)
	}
	if !Verify([]byte(s1), h1) {
		t.Fatal("own secret rejected")
	}
	if Verify([]byte(s2), h1) || Verify([]byte(s1+"x"), h1) || Verify(nil, h1) {
		t.Fatal("wrong secret accepted")
	}
}

func TestMalformedHash(t *testing.T) {
	for _, h := range []string{"", "sha256:", "md5:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("z", 64), Hash("x") + "0"} {
		if _, err := Parse(h); !errors.Is(err, ErrHash) {
			t.Errorf("Parse(%q) = %v, want ErrHash", h, err)
		}
		if Verify([]byte("x"), h) {
			t.Errorf("Verify against malformed %q matched", h)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, h, _ := Generate()
	d, _ := Parse(h)
	sec := []byte(s)
	b.ReportAllocs()
	for b.Loop() {
		if !d.Matches(sec) {
			b.Fatal("mismatch")
		}
	}
}
