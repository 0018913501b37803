package admin_test

import (
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

// BenchmarkAuthenticate is the per-request cost of resolving a session token to an admin and
// their permissions (one PostgreSQL round trip on the local test server).
func BenchmarkAuthenticate(b *testing.B) {
	db := pgstoretest.New(b)
	key, err := fieldcrypt.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	kr, err := fieldcrypt.ParseKeyring("k", map[string]string{"k": key})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := admin.New(admin.Config{Pool: db.Pool, Keyring: kr, Argon2: admin.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if _, err := svc.Bootstrap(ctx, "root@example.com", "Root", "long enough password"); err != nil {
		b.Fatal(err)
	}
	res, err := svc.Login(ctx, "root@example.com", "long enough password", admin.Client{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, res.Session.Token); err != nil {
			b.Fatal(err)
		}
	}
}
