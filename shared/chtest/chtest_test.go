package chtest

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^chtest_[a-z0-9_]{1,32}_[0-9a-f]{8}$`)
	for _, name := range []string{
		"TestX",
		"TestX/sub case #1",
		"Test" + strings.Repeat("Ü", 40),
		"Test/" + strings.Repeat("a", 200),
	} {
		got, err := databaseName(name)
		if err != nil {
			t.Fatal(err)
		}
		if !valid.MatchString(got) {
			t.Errorf("databaseName(%q) = %q, not a short plain identifier", name, got)
		}
	}
	a, _ := databaseName("TestSame")
	b, _ := databaseName("TestSame")
	if a == b {
		t.Errorf("two databases for the same test share the name %q", a)
	}
}

func TestWithDatabase(t *testing.T) {
	got, err := withDatabase("clickhouse://127.0.0.1:59000/fleetedge?dial_timeout=5s", "chtest_x")
	if err != nil {
		t.Fatal(err)
	}
	if want := "clickhouse://127.0.0.1:59000/chtest_x?dial_timeout=5s"; got != want {
		t.Errorf("withDatabase = %q, want %q", got, want)
	}
}

// TestNewCreatesAndDrops proves the database exists during the test, is the DSN's default
// database, and is gone after cleanup.
func TestNewCreatesAndDrops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dsn, db string
	t.Run("inner", func(t *testing.T) {
		dsn, db = New(t)
		conn := open(t, dsn)
		var current string
		if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current); err != nil {
			t.Fatal(err)
		}
		if current != db {
			t.Errorf("currentDatabase() = %q, want %q", current, db)
		}
		if err := conn.Exec(ctx, "CREATE TABLE t (x UInt8) ENGINE = Memory"); err != nil {
			t.Fatalf("create table in test database: %v", err)
		}
	})
	serverDSN, err := EnsureServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := open(t, serverDSN)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test's cleanup", db)
	}
}

func open(t *testing.T, dsn string) clickhouse.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	})
	return conn
}
