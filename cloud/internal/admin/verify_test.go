package admin

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

// TestLoginAlwaysVerifiesOnce: whatever the outcome (unknown email, disabled, locked, wrong or
// right password), a login costs exactly one argon2id verification, so its timing does not
// tell which admins exist or what state they are in.
func TestLoginAlwaysVerifiesOnce(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	key, err := fieldcrypt.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := fieldcrypt.ParseKeyring("k", map[string]string{"k": key})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := New(Config{Pool: db.Pool, Keyring: kr, Argon2: Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	s.verify = func(e, p string) bool { calls.Add(1); return verifyPassword(e, p) }
	ctx := t.Context()
	const pw = "long enough password"
	if _, err := s.Bootstrap(ctx, "root@example.com", "Root", pw); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO admins (email, display_name, password_hash, status) SELECT 'off@example.com', 'Off', password_hash, 'disabled' FROM admins`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO admins (email, display_name, password_hash, locked_until) SELECT 'locked@example.com', 'L', password_hash, $1 FROM admins WHERE email = 'root@example.com'`, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		email, pw string
		want      error
	}{
		{"ghost@example.com", pw, ErrInvalidCredentials},
		{"off@example.com", pw, ErrInvalidCredentials},
		{"locked@example.com", pw, ErrLocked},
		{"root@example.com", "wrong password", ErrInvalidCredentials},
		{"root@example.com", pw, nil},
	} {
		calls.Store(0)
		_, err := s.Login(ctx, c.email, c.pw, Client{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.email, err, c.want)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: %d verifications, want 1", c.email, n)
		}
	}
}
