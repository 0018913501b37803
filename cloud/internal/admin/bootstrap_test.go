package admin_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

func TestBootstrapCreatesTheFirstSuperAdminOnce(t *testing.T) {
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
	svc, err := admin.New(admin.Config{Pool: db.Pool, Keyring: kr, Argon2: admin.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := svc.Bootstrap(ctx, "not an email", "Root", "long enough password"); !errors.Is(err, admin.ErrInvalidInput) {
		t.Fatalf("bad email: %v", err)
	}
	if _, err := svc.Bootstrap(ctx, "root@example.com", "Root", "short"); !errors.Is(err, admin.ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	// Several replicas starting together create exactly one.
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range 4 {
		wg.Go(func() {
			ok, err := svc.Bootstrap(ctx, "root@example.com", "Root", "long enough password")
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("created %d times", created)
	}
	list, err := svc.ListAdmins(ctx)
	if err != nil || len(list) != 1 || list[0].Roles[0] != admin.RoleSuperAdmin || list[0].Status != "active" {
		t.Fatalf("admins = %+v, %v", list, err)
	}
	// Later starts with another configured admin change nothing.
	if ok, err := svc.Bootstrap(ctx, "other@example.com", "Other", "long enough password"); ok || err != nil {
		t.Fatalf("second bootstrap: %v %v", ok, err)
	}
	p, err := audit.List(ctx, db.Pool, audit.Filter{Action: "admin.bootstrap"})
	if err != nil || len(p.Records) != 1 || p.Records[0].AdminEmail != admin.BootstrapActor || p.Records[0].AdminID != "" || p.Records[0].TargetID != list[0].ID {
		t.Fatalf("bootstrap entries: %+v %v", p, err)
	}
	res, err := svc.Login(ctx, "root@example.com", "long enough password", admin.Client{})
	if err != nil || res.Session == nil {
		t.Fatalf("login: %+v %v", res, err)
	}
}
