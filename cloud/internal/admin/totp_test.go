package admin

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// RFC 6238 appendix B (SHA1 secret), truncated to 6 digits (the last six of the 8-digit values).
func TestTOTPCodeRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		want string
	}{
		{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"},
		{1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
	} {
		if got := TOTPCode(secret, totpStep(time.Unix(c.unix, 0))); got != c.want {
			t.Errorf("T=%d: %s, want %s", c.unix, got, c.want)
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := totpStep(now)
	for _, c := range []struct {
		name string
		code string
		step int64
		ok   bool
	}{
		{"current", TOTPCode(secret, cur), cur, true},
		{"previous", TOTPCode(secret, cur-1), cur - 1, true},
		{"next", TOTPCode(secret, cur+1), cur + 1, true},
		{"two back", TOTPCode(secret, cur-2), 0, false},
		{"two ahead", TOTPCode(secret, cur+2), 0, false},
		{"short", "12345", 0, false},
		{"letters", "12a456", 0, false},
		{"long", "1234567", 0, false},
		{"empty", "", 0, false},
	} {
		step, ok := matchTOTP(secret, c.code, now)
		if ok != c.ok || (ok && step != c.step) {
			t.Errorf("%s: step %d ok %v, want %d %v", c.name, step, ok, c.step, c.ok)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	p := Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	h, err := hashPassword(p, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := hashPassword(p, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !verifyPassword(h, "correct horse battery") || verifyPassword(h, "correct horse batterY") || verifyPassword(h, "") {
		t.Fatal("verify")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"} {
		if verifyPassword(bad, "x") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
	if err := checkPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
}

var costRE = regexp.MustCompile(`m=0*([0-9]+)`)

// FuzzVerifyPassword: a stored hash of any shape never panics nor matches by accident.
func FuzzVerifyPassword(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "pw")
	f.Add("$argon2id$v=19$m=8,t=1,p=0$$", "")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		if len(encoded) > 512 {
			return
		}
		// Keep the fuzzer off expensive but legal costs (up to 1 GiB and 16 passes are accepted).
		if m := costRE.FindStringSubmatch(encoded); m != nil && len(m[1]) > 4 {
			return
		}
		if verifyPassword(encoded, pw) && !strings.HasPrefix(encoded, "$argon2id$v=19$") {
			t.Fatalf("%q matched", encoded)
		}
	})
}
