package pgtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// createWidgets is a tiny schema for these tests, applied as the migrator.
func createWidgets(calls *atomic.Int32) MigrateFunc {
	return func(ctx context.Context, dsn string) error {
		calls.Add(1)
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(ctx) //nolint:errcheck
		_, err = c.Exec(ctx, `CREATE TABLE widgets (id int PRIMARY KEY);
			GRANT SELECT, INSERT ON widgets TO fleetedge_app`)
		return err
	}
}

// dropTemplate removes a template a test built under a one-off version.
func dropTemplate(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		srv, err := ensureServer()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		c, err := srv.admin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx) //nolint:errcheck
		ident := pgx.Identifier{name}.Sanitize()
		if _, err := c.Exec(ctx, "ALTER DATABASE "+ident+" IS_TEMPLATE false"); err != nil {
			t.Errorf("unmark template %s: %v", name, err)
		}
		if _, err := c.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop template %s: %v", name, err)
		}
	})
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	srv, err := ensureServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := srv.admin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx) //nolint:errcheck
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestEmptyDatabasesAreFreshAndDropped(t *testing.T) {
	t.Parallel()
	var names []string
	for _, sub := range []string{"a", "b"} {
		t.Run(sub, func(t *testing.T) {
			db := New(t)
			names = append(names, db.Name)
			ctx := t.Context()
			var user string
			var tables int
			if err := db.Pool.QueryRow(ctx, `SELECT current_user, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&user, &tables); err != nil {
				t.Fatal(err)
			}
			if user != "fleetedge_app" || tables != 0 {
				t.Fatalf("user %s with %d tables, want fleetedge_app in an empty database", user, tables)
			}
			if !databaseExists(t, db.Name) {
				t.Fatalf("database %s missing during its test", db.Name)
			}
		})
	}
	if names[0] == names[1] {
		t.Fatalf("two tests shared database %s", names[0])
	}
	for _, n := range names {
		if databaseExists(t, n) {
			t.Errorf("database %s still exists after its test", n)
		}
	}
}

func TestTemplateBuiltOncePerVersionAndCloned(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	version := "pgtest_self_" + randomHex(4)
	dropTemplate(t, templateName(options{migrate: createWidgets(&calls), version: version}))
	opt := WithMigrations(createWidgets(&calls), version)

	var mu sync.Mutex
	seen := map[string]bool{}
	t.Run("group", func(t *testing.T) {
		for i := range 4 {
			t.Run(string(rune('a'+i)), func(t *testing.T) {
				t.Parallel()
				db := New(t, opt)
				mu.Lock()
				seen[db.Name] = true
				mu.Unlock()
				ctx := t.Context()
				if _, err := db.Pool.Exec(ctx, `INSERT INTO widgets VALUES (1)`); err != nil {
					t.Fatalf("clone lacks the migrated schema or grants: %v", err)
				}
				// Each clone is isolated: the row above is the only one.
				var n int
				if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM widgets`).Scan(&n); err != nil || n != 1 {
					t.Fatalf("widgets in a fresh clone: %d, %v", n, err)
				}
			})
		}
	})
	if got := calls.Load(); got != 1 {
		t.Fatalf("migrations ran %d times for one version, want 1", got)
	}
	if len(seen) != 4 {
		t.Fatalf("4 tests got %d distinct databases", len(seen))
	}

	// A new version (the migrations changed) builds a new template.
	version2 := version + "_v2"
	dropTemplate(t, templateName(options{migrate: createWidgets(&calls), version: version2}))
	New(t, WithMigrations(createWidgets(&calls), version2))
	if got := calls.Load(); got != 2 {
		t.Fatalf("after a version change migrations ran %d times in total, want 2", got)
	}
}

func TestHalfBuiltTemplateIsRebuilt(t *testing.T) {
	t.Parallel()
	srv, err := ensureServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	version := "pgtest_broken_" + randomHex(4)
	boom := errors.New("migration failed")
	broken := options{migrate: func(context.Context, string) error { return boom }, version: version}
	dropTemplate(t, templateName(broken))
	if _, err := srv.ensureTemplate(ctx, broken); !errors.Is(err, boom) {
		t.Fatalf("ensureTemplate with a failing migration: err = %v, want it wrapped", err)
	}
	// The failed template exists but is not marked ready; the next build replaces it.
	var calls atomic.Int32
	db := New(t, WithMigrations(createWidgets(&calls), version))
	if calls.Load() != 1 {
		t.Fatalf("half-built template was reused instead of rebuilt")
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO widgets VALUES (1)`); err != nil {
		t.Fatalf("rebuilt template lacks the schema: %v", err)
	}
}

func TestParseEnv(t *testing.T) {
	t.Parallel()
	env := parseEnv([]byte("export A='x=1&y=2'\nB=plain\n\njunk\n"))
	if env["A"] != "x=1&y=2" || env["B"] != "plain" || len(env) != 2 {
		t.Fatalf("parseEnv = %v", env)
	}
	got, err := withDatabase("postgres://u:p@127.0.0.1:5/old?sslmode=disable", "new")
	if err != nil || got != "postgres://u:p@127.0.0.1:5/new?sslmode=disable" {
		t.Fatalf("withDatabase = %q, %v", got, err)
	}
}

// BenchmarkNew measures what one test pays for its database: clone from a migrated template,
// then drop. Run: go test -run '^$' -bench New -benchtime 20x ./shared/pgtest/
func BenchmarkNew(b *testing.B) {
	var calls atomic.Int32
	o := options{migrate: createWidgets(&calls), version: "pgtest_bench_" + randomHex(4)}
	srv, err := ensureServer()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tpl, err := srv.ensureTemplate(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c, err := srv.admin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(ctx) //nolint:errcheck
		ident := pgx.Identifier{tpl}.Sanitize()
		if _, err := c.Exec(ctx, "ALTER DATABASE "+ident+" IS_TEMPLATE false"); err != nil {
			b.Error(err)
		}
		if _, err := c.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			b.Error(err)
		}
	})
	for b.Loop() {
		db, err := srv.clone(ctx, tpl)
		if err != nil {
			b.Fatal(err)
		}
		db.Pool.Close()
		if err := srv.drop(ctx, db.Name); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStaleTemplatesAreDropped(t *testing.T) {
	t.Parallel()
	srv, err := ensureServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var calls atomic.Int32
	old := options{migrate: createWidgets(&calls), version: "pgtest_stale_" + randomHex(4)}
	fresh := options{migrate: createWidgets(&calls), version: "pgtest_fresh_" + randomHex(4)}
	oldName, freshName := templateName(old), templateName(fresh)
	dropTemplate(t, freshName)
	if _, err := srv.ensureTemplate(ctx, old); err != nil {
		t.Fatal(err)
	}
	c, err := srv.admin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx) //nolint:errcheck
	// Backdate the old template past staleAfter.
	backdated := time.Now().Add(-staleAfter - time.Hour).Unix()
	if _, err := c.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS 'pgtest template built %d'", pgx.Identifier{oldName}.Sanitize(), backdated)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ensureTemplate(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if databaseExists(t, oldName) {
		t.Errorf("stale template %s survived a new build", oldName)
		dropTemplate(t, oldName)
	}
	if !databaseExists(t, freshName) {
		t.Errorf("fresh template %s missing", freshName)
	}
}
