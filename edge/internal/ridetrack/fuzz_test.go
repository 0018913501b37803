package ridetrack

import (
	"strings"
	"testing"
)

// FuzzRideID: RideID never panics, and accepts exactly "ride:" followed by
// 1–64 characters of [0-9A-Za-z_-], returning that suffix.
func FuzzRideID(f *testing.F) {
	for _, s := range []string{"ride:" + r1, "ride:", "ride:a b", "rule:slow", "ride:ä", "ride:" + strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, source string) {
		id, ok := RideID(source)
		if !ok {
			if id != "" {
				t.Fatalf("rejected %q but returned %q", source, id)
			}
			return
		}
		if source != SourcePrefix+id || len(id) == 0 || len(id) > MaxRideIDLen {
			t.Fatalf("RideID(%q) = %q", source, id)
		}
		if strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != "" {
			t.Fatalf("id %q has other characters", id)
		}
	})
}
