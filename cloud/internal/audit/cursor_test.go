package audit

import (
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, id := range []int64{1, 2, 1 << 40, 1<<63 - 1} {
		got, err := decodeCursor(EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("%d: %d %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "a1.", "a1.AAAAAAAAAAA", "b1.AAAAAAAAAAE", "a1.gAAAAAAAAAA", "a1.!!"} {
		if _, err := decodeCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzDecodeCursor: any cursor string decodes to a positive id or ErrInvalid, never panics,
// and a decoded id re-encodes to the same cursor.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(42))
	f.Add("a1.zzzz")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := decodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if id <= 0 || EncodeCursor(id) != s {
			t.Fatalf("%q -> %d -> %q", s, id, EncodeCursor(id))
		}
	})
}
