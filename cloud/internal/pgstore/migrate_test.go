package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore"
	"github.com/fleetedge/fleetedge/shared/pgtest"
)

func testLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func TestMigrateFromEmptyAndIdempotent(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t) // empty database, no template schema
	ctx := t.Context()
	var logs bytes.Buffer
	if err := pgstore.Migrate(ctx, db.MigratorDSN, testLogger(&logs)); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if n, want := strings.Count(logs.String(), "migration applied"), len(mustGlob(t)); n != want {
		t.Fatalf("first Migrate applied %d migrations, want %d; logs:\n%s", n, want, logs.String())
	}
	wantTables := []string{
		"riders", "rider_identities", "rider_sessions", "admins", "roles", "permissions",
		"role_permissions", "admin_roles", "admin_audit_log", "cities", "gateways", "vehicles",
		"zones", "tariffs", "charging_stations", "rides", "payments", "payment_methods",
		"ledger_accounts", "ledger_transactions", "ledger_entries", "idempotency_keys", "vehicle_events",
	}
	conn := connect(t, db.MigratorDSN)
	for _, tbl := range wantTables {
		var owner string
		err := conn.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, tbl).Scan(&owner)
		if err != nil {
			t.Errorf("table %s: %v", tbl, err)
			continue
		}
		if owner != pgstore.RoleMigrator {
			t.Errorf("table %s owned by %s, want %s", tbl, owner, pgstore.RoleMigrator)
		}
	}

	logs.Reset()
	if err := pgstore.Migrate(ctx, db.MigratorDSN, testLogger(&logs)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if strings.Contains(logs.String(), "migration applied") || !strings.Contains(logs.String(), "applied=0") {
		t.Fatalf("second Migrate was not a no-op; logs:\n%s", logs.String())
	}
}

func TestMigrateAndConnectRefuseSuperuser(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	if err := pgstore.Migrate(ctx, db.SuperuserDSN, testLogger(new(bytes.Buffer))); !errors.Is(err, pgstore.ErrSuperuser) {
		t.Fatalf("Migrate as superuser: err = %v, want ErrSuperuser", err)
	}
	if _, err := pgstore.Connect(ctx, db.SuperuserDSN); !errors.Is(err, pgstore.ErrSuperuser) {
		t.Fatalf("Connect as superuser: err = %v, want ErrSuperuser", err)
	}
	if _, err := pgstore.Connect(ctx, "postgres://x@127.0.0.1:55432/x?sslmode=disable&pool_max_conns=zero"); err == nil {
		t.Fatal("Connect accepted a malformed DSN")
	}
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func TestConcurrentMigrateIsSerialised(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- pgstore.Migrate(ctx, db.MigratorDSN, testLogger(new(bytes.Buffer))) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	var n int
	if err := connect(t, db.MigratorDSN).QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(mustGlob(t)) {
		t.Fatalf("goose_db_version has %d rows, want one per migration (%d)", n, len(mustGlob(t)))
	}
}

func mustGlob(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(pgstore.Migrations(), "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v, %v", names, err)
	}
	return names
}
