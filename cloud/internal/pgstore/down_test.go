package pgstore

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/fleetedge/fleetedge/shared/pgtest"
)

// TestMigrationsDownAndUpAgain proves every Down section undoes its Up: the schema goes to
// version 0 and back to the latest without errors.
func TestMigrationsDownAndUpAgain(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(new(bytes.Buffer), nil))
	if err := Migrate(ctx, db.MigratorDSN, log); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(db.MigratorDSN)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close() //nolint:errcheck
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	var tables int
	if err := sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("%d tables left after migrating down to 0", tables)
	}
	if err := Migrate(ctx, db.MigratorDSN, log); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
