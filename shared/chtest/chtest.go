package chtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ScriptPath is where the server script lives, relative to the workspace root (the directory
// holding go.work).
const ScriptPath = "deploy/local/clickhouse.sh"

// startTimeout bounds `clickhouse.sh start`, which may have to apt-get install the server.
const startTimeout = 5 * time.Minute

// ErrNoWorkspace means no go.work was found above the working directory.
var ErrNoWorkspace = errors.New("chtest: no go.work found above the working directory")

// New makes sure the local ClickHouse server runs, creates a fresh database for this test and
// returns a DSN whose default database is that database, plus the database name. The database
// is dropped when the test ends.
func New(t testing.TB) (dsn string, db string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	serverDSN, err := EnsureServer(ctx)
	if err != nil {
		t.Fatalf("chtest: local ClickHouse unavailable: %v", err)
	}
	db, err = databaseName(t.Name())
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	dsn, err = withDatabase(serverDSN, db)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}

	opts, err := clickhouse.ParseDSN(serverDSN)
	if err != nil {
		t.Fatalf("chtest: parse server DSN %q: %v", serverDSN, err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("chtest: connect %s: %v", serverDSN, err)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		closeErr := conn.Close()
		t.Fatalf("chtest: create database %s: %v (close: %v)", db, err, closeErr)
	}
	t.Cleanup(func() {
		// The test's own context is gone by now; give the drop its own short deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("chtest: drop database %s: %v", db, err)
		}
		if err := conn.Close(); err != nil {
			t.Errorf("chtest: close admin connection: %v", err)
		}
	})
	return dsn, db
}

// EnsureServer starts the local server through the workspace's clickhouse.sh (reusing it when
// it already runs) and returns the server's DSN as printed by `clickhouse.sh env`.
func EnsureServer(ctx context.Context) (string, error) {
	root, err := workspaceRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, ScriptPath)
	if out, err := exec.CommandContext(ctx, script, "start").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s start: %w\n%s", script, err, bytes.TrimSpace(out))
	}
	out, err := exec.CommandContext(ctx, script, "env").Output()
	if err != nil {
		return "", fmt.Errorf("%s env: %w", script, err)
	}
	dsn, ok := parseEnv(out)["FLEETEDGE_CH_DSN"]
	if !ok || dsn == "" {
		return "", fmt.Errorf("%s env: no FLEETEDGE_CH_DSN in %q", script, out)
	}
	return dsn, nil
}

func workspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("chtest: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoWorkspace
		}
		dir = parent
	}
}

// parseEnv reads KEY=value lines.
func parseEnv(out []byte) map[string]string {
	vars := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok {
			vars[k] = v
		}
	}
	return vars
}

// databaseName turns a test name into a unique identifier ClickHouse accepts unquoted:
// chtest_<letters, digits and _ of the name, at most 32>_<8 random hex digits>.
func databaseName(testName string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 32 {
			break
		}
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("random database suffix: %w", err)
	}
	return "chtest_" + b.String() + "_" + hex.EncodeToString(rnd[:]), nil
}

// withDatabase returns dsn with its database (the URL path) replaced by db.
func withDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse DSN %q: %w", dsn, err)
	}
	u.Path = "/" + db
	return u.String(), nil
}
