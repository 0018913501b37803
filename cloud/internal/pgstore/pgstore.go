package pgstore

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// ErrSuperuser is returned when a DSN given to Migrate or Connect logs in as a superuser:
// the cloud runs with least privilege (fleetedge_migrator for DDL, fleetedge_app otherwise).
var ErrSuperuser = errors.New("pgstore: refusing a superuser connection")

// Role names the bootstrap (deploy/local/postgres.sh, or the DBA in production) creates and the
// migrations grant to.
const (
	RoleMigrator  = "fleetedge_migrator"
	RoleApp       = "fleetedge_app"
	RoleReporting = "fleetedge_reporting"
)

// migrationLockID keys the advisory lock that serialises concurrent Migrate calls (several
// cloud replicas starting together). Any constant works as long as it is only used here.
const migrationLockID = 0x666c6565746564 // "fleeted"

// Migrations returns the embedded migration files (goose SQL), rooted at their directory.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		// fs.Sub fails only for an invalid path literal, which the embed above rules out.
		panic(err)
	}
	return sub
}

// SchemaVersion is a short hash of every embedded migration's name and content. It changes
// whenever a migration is added or edited; test helpers name their template database by it.
func SchemaVersion() string {
	fsys := Migrations()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		panic(err) // only for a malformed pattern
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Migrate applies every pending embedded migration, as the role of migratorDSN (which must be
// fleetedge_migrator or another non-superuser owning the database). It is safe to call from
// several processes at once (a PostgreSQL advisory lock serialises them) and a no-op when the
// schema is current.
func Migrate(ctx context.Context, migratorDSN string, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(migratorDSN)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: parse DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close() //nolint:errcheck // closing a pool of finished connections reports nothing useful

	var super bool
	var user string
	if err := db.QueryRowContext(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &super); err != nil {
		return fmt.Errorf("pgstore: migrate: connect: %w", err)
	}
	if super {
		return fmt.Errorf("pgstore: migrate as %q: %w (use %s)", user, ErrSuperuser, RoleMigrator)
	}

	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(),
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error != nil {
			continue
		}
		log.Info("migration applied", "version", r.Source.Version, "file", path.Base(r.Source.Path), "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read version: %w", err)
	}
	log.Info("schema current", "version", version, "applied", len(results), "role", user)
	return nil
}

// Connect opens a pgx pool for dsn (normally fleetedge_app's) and checks that it works and is
// not a superuser. Pool sizing and timeouts come from the DSN (pool_max_conns, …).
func Connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: parse DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	var super bool
	var user string
	if err := pool.QueryRow(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &super); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if super {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect as %q: %w (use %s)", user, ErrSuperuser, RoleApp)
	}
	return pool, nil
}
