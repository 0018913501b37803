package pgstoretest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore"
	"github.com/fleetedge/fleetedge/shared/pgtest"
)

// New returns a fresh database migrated to the latest schema, with a pool as fleetedge_app
// (db.Pool) and DSNs for the three roles; it is dropped when the test ends.
func New(t testing.TB) *pgtest.DB {
	t.Helper()
	return pgtest.New(t, Migrations())
}

// Migrations is the pgtest option for pgstore's schema, for tests that call pgtest directly.
func Migrations() pgtest.Option {
	return pgtest.WithMigrations(func(ctx context.Context, dsn string) error {
		return pgstore.Migrate(ctx, dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}, pgstore.SchemaVersion())
}
