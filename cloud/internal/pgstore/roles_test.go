package pgstore_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

func TestRolesAreNotPrivileged(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	for name, dsn := range map[string]string{"app": db.AppDSN, "migrator": db.MigratorDSN, "reporting": db.ReportingDSN} {
		c := connect(t, dsn)
		var user string
		var super, createRole, createDB, bypassRLS bool
		err := c.QueryRow(ctx, `SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
			Scan(&user, &super, &createRole, &createDB, &bypassRLS)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if super || createRole || createDB || bypassRLS {
			t.Errorf("%s (%s): super=%v createrole=%v createdb=%v bypassrls=%v, want all false", name, user, super, createRole, createDB, bypassRLS)
		}
	}
	// The pool the app uses is the app role.
	var user string
	if err := db.Pool.QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	if user != pgstore.RoleApp {
		t.Fatalf("app pool is %s, want %s", user, pgstore.RoleApp)
	}
}

func TestAppRoleHasDMLOnly(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "r")
	if _, err := db.Pool.Exec(ctx, `INSERT INTO admin_audit_log (admin_email, action, target_type, target_id, details, source_ip)
		VALUES ('ops@example.com', 'rider.suspend', 'rider', $1, '{"before": {"status": "active"}, "after": {"status": "suspended"}}', '10.0.0.1')`, f.riderID); err != nil {
		t.Fatalf("app inserting an audit row: %v", err)
	}
	denied := []string{
		`CREATE TABLE evil (id int)`,
		`CREATE TEMP TABLE evil (id int)`,
		`CREATE SCHEMA evil`,
		`CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
		`CREATE INDEX evil ON riders (first_name)`,
		`DROP TABLE riders`,
		`DROP TABLE admin_audit_log`,
		`ALTER TABLE riders ADD COLUMN evil int`,
		`ALTER TABLE vehicles DROP CONSTRAINT vehicles_normal_speed_limit_kmh_check`,
		`ALTER TABLE admin_audit_log DISABLE TRIGGER admin_audit_log_no_update`,
		`TRUNCATE riders`,
		`TRUNCATE admin_audit_log`,
		`UPDATE admin_audit_log SET action = 'rider.reactivate'`,
		`DELETE FROM admin_audit_log`,
		`SELECT * FROM goose_db_version`,
		`DELETE FROM goose_db_version`,
		`CREATE ROLE evil`,
		`SET ROLE fleetedge_migrator`,
	}
	for _, q := range denied {
		if _, err := db.Pool.Exec(ctx, q); sqlState(err) != codeNoPrivilege {
			t.Errorf("app: %s: err = %v, want permission denied (42501)", q, err)
		}
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM admin_audit_log WHERE action = 'rider.suspend'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit row after refused changes: count %d, err %v", n, err)
	}

	// Even the owner cannot rewrite history by accident: the trigger refuses.
	mig := connect(t, db.MigratorDSN)
	for _, q := range []string{`UPDATE admin_audit_log SET action = 'x'`, `DELETE FROM admin_audit_log`, `TRUNCATE admin_audit_log`} {
		if _, err := mig.Exec(ctx, q); sqlState(err) != codeNoPrivilege {
			t.Errorf("migrator: %s: err = %v, want refused by trigger", q, err)
		}
	}
}

func TestReportingRoleReadsOnly(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "p")
	rep := connect(t, db.ReportingDSN)

	var email string
	if err := rep.QueryRow(ctx, `SELECT email FROM riders WHERE id = $1`, f.riderID).Scan(&email); err != nil {
		t.Fatalf("reporting reading rider emails: %v", err)
	}
	var n int
	if err := rep.QueryRow(ctx, `SELECT count(*) FROM vehicles`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("reporting counting vehicles: %d, %v", n, err)
	}
	if err := rep.QueryRow(ctx, `SELECT count(*) FROM rider_balances`).Scan(&n); err != nil {
		t.Fatalf("reporting reading balances: %v", err)
	}

	// Read-only by default; and with read-write forced on, privileges still refuse.
	if _, err := rep.Exec(ctx, `INSERT INTO cities (code, name, currency) VALUES ('rep', 'R', 'EUR')`); sqlState(err) != codeReadOnlyTx {
		t.Errorf("reporting insert in default transaction: err = %v, want read-only transaction", err)
	}
	if _, err := rep.Exec(ctx, `SET default_transaction_read_only = off`); err != nil {
		t.Fatal(err)
	}
	denied := []string{
		`INSERT INTO cities (code, name, currency) VALUES ('rep', 'R', 'EUR')`,
		`UPDATE vehicles SET status = 'lost'`,
		`DELETE FROM riders`,
		`INSERT INTO admin_audit_log (admin_email, action, target_type) VALUES ('a@b.c', 'x', 'y')`,
		`CREATE TABLE evil (id int)`,
		// Secrets stay hidden from dashboards.
		`SELECT password_hash FROM riders`,
		`SELECT phone_ciphertext FROM riders`,
		`SELECT password_hash FROM admins`,
		`SELECT token_ciphertext FROM payment_methods`,
		`SELECT * FROM rider_sessions`,
		`SELECT * FROM idempotency_keys`,
	}
	for _, q := range denied {
		if _, err := rep.Exec(ctx, q); sqlState(err) != codeNoPrivilege {
			t.Errorf("reporting: %s: err = %v, want permission denied (42501)", q, err)
		}
	}
}

// TestDefaultPrivilegesCoverNewTables proves a later migration need not grant anything: a table
// the migrator creates is DML for the app and read-only for reporting at once.
func TestDefaultPrivilegesCoverNewTables(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	mig := connect(t, db.MigratorDSN)
	if _, err := mig.Exec(ctx, `CREATE TABLE future_feature (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)`); err != nil {
		t.Fatalf("migrator creating a table: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO future_feature (note) VALUES ('a')`); err != nil {
		t.Fatalf("app inserting into a new table: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE future_feature SET note = 'b'`); err != nil {
		t.Fatalf("app updating a new table: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `DROP TABLE future_feature`); sqlState(err) != codeMustBeOwner {
		t.Fatalf("app dropping a new table: err = %v, want permission denied", err)
	}
	rep := connect(t, db.ReportingDSN)
	var note string
	if err := rep.QueryRow(ctx, `SELECT note FROM future_feature`).Scan(&note); err != nil || note != "b" {
		t.Fatalf("reporting reading a new table: %q, %v", note, err)
	}
	err := pgx.BeginTxFunc(ctx, rep, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO future_feature (note) VALUES ('c')`)
		return err
	})
	if sqlState(err) != codeNoPrivilege {
		t.Fatalf("reporting inserting into a new table: err = %v, want permission denied", err)
	}
}
