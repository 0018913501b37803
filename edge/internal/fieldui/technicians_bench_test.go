package fieldui

import (
	"testing"
)

// BenchmarkCheck is one technician login's password check with the costs the cloud uses
// for technicians (account.DefaultArgon2Params: m=64 MiB, t=3, p=2, the same as
// DefaultArgon2). In parallel, at most MaxConcurrentVerify run at once: ns/op is then the
// gateway's login throughput bound, and memory stays at 2 × 64 MiB.
func BenchmarkCheck(b *testing.B) {
	h, err := HashPassword("a technician's password", DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	acc, err := NewAccounts("tech", h)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := acc.Check(b.Context(), "tech", "a technician's password"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// Waiters beyond MaxWaitingVerify get ErrBusy: count only real checks.
				if _, ok, err := acc.Check(b.Context(), "tech", "a technician's password"); !ok && err == nil {
					b.Error("password refused")
				}
			}
		})
	})
}
