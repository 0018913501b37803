package adminlists

import (
	"errors"
	"testing"
	"time"
)

// FuzzCursor: any string either decodes to a position that encodes back to the very same cursor,
// or fails with ErrInvalid; nothing panics.
func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(time.Date(2026, 6, 1, 8, 0, 0, 123000, time.UTC), "7f1c7c4e-2b1a-4c55-9d1e-0a6b8b0c9d11"))
	f.Add("k1.")
	f.Add("k1.MTIzLzQ1Ng")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v is not ErrInvalid", s, err)
			}
			return
		}
		if enc := encodeCursor(c.at, c.id); enc != s {
			t.Fatalf("%q decoded but encodes as %q", s, enc)
		}
	})
}
