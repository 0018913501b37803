package admin

import "testing"

// BenchmarkVerifyPasswordDefault is the cost of one login's password check (and of the dummy
// check for an unknown email) with DefaultArgon2.
func BenchmarkVerifyPasswordDefault(b *testing.B) {
	h, err := hashPassword(DefaultArgon2, "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !verifyPassword(h, "correct horse battery") {
			b.Fatal("no match")
		}
	}
}
