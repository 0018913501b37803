package pgtest

import (
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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ScriptPath is the server script, relative to the workspace root (the directory with go.work).
const ScriptPath = "deploy/local/postgres.sh"

const (
	// startTimeout bounds `postgres.sh start`, which may apt-get install the server.
	startTimeout = 5 * time.Minute
	// templateTimeout bounds waiting for and building a template database.
	templateTimeout = 3 * time.Minute
	// templateLockKey keys the advisory lock held while a template is built.
	templateLockKey = 0x6665_7067_7465_7374 // "fepgtest"
	testDBPrefix    = "fleetedge_test_"
	templatePrefix  = "fleetedge_tpl_"
	migratorRole    = "fleetedge_migrator"
)

// ErrNoWorkspace means no go.work was found above the working directory.
var ErrNoWorkspace = errors.New("pgtest: no go.work found above the working directory")

// MigrateFunc brings the (empty) database reached by migratorDSN to the latest schema.
type MigrateFunc func(ctx context.Context, migratorDSN string) error

// Option configures New.
type Option func(*options)

type options struct {
	migrate MigrateFunc
	version string
}

// WithMigrations makes New clone a template migrated by fn. version must change whenever the
// migrations change (e.g. a hash of the migration files): it names the template database.
func WithMigrations(fn MigrateFunc, version string) Option {
	return func(o *options) {
		o.migrate = fn
		o.version = version
	}
}

// DB is one test's database.
type DB struct {
	// Name is the database name (fleetedge_test_<pid>_<random>).
	Name string
	// AppDSN, MigratorDSN and ReportingDSN log in as fleetedge_app, fleetedge_migrator and
	// fleetedge_reporting over TCP with passwords, with Name as the database.
	AppDSN       string
	MigratorDSN  string
	ReportingDSN string
	// SuperuserDSN logs in as the cluster superuser over the unix socket. Only for tests that
	// prove the cloud refuses it; the cloud itself never gets it.
	SuperuserDSN string
	// Pool is a pool for AppDSN, closed before the database is dropped.
	Pool *pgxpool.Pool
}

// New returns a fresh database for this test, empty or (WithMigrations) at the latest schema.
// It fails the test when the server cannot be started or the database cannot be made.
func New(t testing.TB, opts ...Option) *DB {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := ensureServer()
	if err != nil {
		t.Fatalf("pgtest: local PostgreSQL unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), templateTimeout)
	defer cancel()
	tpl, err := srv.ensureTemplate(ctx, o)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db, err := srv.clone(ctx, tpl)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if db.Pool != nil {
			db.Pool.Close()
		}
		// The test's context is gone by now; the drop gets its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.drop(ctx, db.Name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return db
}

// server is what `postgres.sh env` printed.
type server struct {
	adminDSN     string // superuser over the unix socket; only this helper uses it
	migratorDSN  string
	appDSN       string
	reportingDSN string

	mu        sync.Mutex // guards templates
	templates map[string]bool
}

// One server per test process: starting it is a fork of a shell script and several
// round trips, so it is done once and cached (the only package-level state here).
var (
	serverOnce sync.Once
	serverVal  *server
	serverErr  error
)

func ensureServer() (*server, error) {
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		serverVal, serverErr = startServer(ctx)
	})
	return serverVal, serverErr
}

func startServer(ctx context.Context) (*server, error) {
	root, err := workspaceRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, ScriptPath)
	if out, err := exec.CommandContext(ctx, "bash", script, "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s start: %w: %s", script, err, bytes.TrimSpace(out))
	}
	out, err := exec.CommandContext(ctx, "bash", script, "env").Output()
	if err != nil {
		return nil, fmt.Errorf("%s env: %w", script, err)
	}
	env := parseEnv(out)
	s := &server{
		adminDSN:     env["FLEETEDGE_PG_ADMIN_DSN"],
		migratorDSN:  env["FLEETEDGE_PG_MIGRATOR_DSN"],
		appDSN:       env["FLEETEDGE_PG_APP_DSN"],
		reportingDSN: env["FLEETEDGE_PG_REPORTING_DSN"],
		templates:    map[string]bool{},
	}
	if s.adminDSN == "" || s.migratorDSN == "" || s.appDSN == "" || s.reportingDSN == "" {
		return nil, fmt.Errorf("%s env printed no DSNs: %q", script, out)
	}
	if err := s.dropOrphans(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// parseEnv reads the `export KEY='value'` lines of postgres.sh env.
func parseEnv(out []byte) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env[k] = strings.Trim(v, "'")
	}
	return env
}

func workspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
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

func (s *server) admin(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, s.adminDSN)
	if err != nil {
		return nil, fmt.Errorf("admin connection: %w", err)
	}
	return c, nil
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]`)

func templateName(o options) string {
	if o.migrate == nil {
		return templatePrefix + "empty"
	}
	v := unsafeName.ReplaceAllString(strings.ToLower(o.version), "_")
	if v == "" {
		v = "unversioned"
	}
	name := templatePrefix + v
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// ensureTemplate returns the name of a ready template for o, building it when needed.
func (s *server) ensureTemplate(ctx context.Context, o options) (string, error) {
	name := templateName(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.templates[name] {
		return name, nil
	}
	conn, err := s.admin(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background()) //nolint:errcheck // admin session ends with the test process anyway
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		return "", fmt.Errorf("lock template build: %w", err)
	}
	// Unlocking is implicit when the session closes; do it explicitly so the next process
	// proceeds without waiting for our close.
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(templateLockKey)) //nolint:errcheck

	var ready bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	switch {
	case err == nil && ready:
		s.templates[name] = true
		return name, nil
	case err == nil: // a builder died half-way
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("drop half-built template %s: %w", name, err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("look up template %s: %w", name, err)
	}

	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" OWNER "+migratorRole); err != nil {
		return "", fmt.Errorf("create template %s: %w", name, err)
	}
	if o.migrate != nil {
		dsn, err := withDatabase(s.migratorDSN, name)
		if err != nil {
			return "", err
		}
		if err := o.migrate(ctx, dsn); err != nil {
			return "", fmt.Errorf("migrate template %s: %w", name, err)
		}
	}
	// Closed to connections, so nothing can block CREATE DATABASE … TEMPLATE; marked a
	// template last, as the "ready" flag. The comment dates it for dropStaleTemplates.
	if _, err := conn.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS 'pgtest template built %d'", ident, time.Now().Unix())); err != nil {
		return "", fmt.Errorf("date template %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
		return "", fmt.Errorf("seal template %s: %w", name, err)
	}
	s.templates[name] = true
	if err := s.dropStaleTemplates(ctx, conn, name); err != nil {
		return "", err
	}
	return name, nil
}

// staleAfter is how old another version's template must be before a new build drops it: old
// enough that no test run still clones it (a checkout on an older schema rebuilds it if needed).
const staleAfter = 24 * time.Hour

// dropStaleTemplates drops templates of other schema versions built more than staleAfter ago,
// so editing migrations does not pile up databases. Called with s.mu and the build lock held.
func (s *server) dropStaleTemplates(ctx context.Context, conn *pgx.Conn, keep string) error {
	rows, err := conn.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE datistemplate AND starts_with(datname, $1) AND datname <> $2`, templatePrefix, keep)
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	type tpl struct{ Name, Comment string }
	tpls, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tpl])
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	for _, t := range tpls {
		var built int64
		if _, err := fmt.Sscanf(t.Comment, "pgtest template built %d", &built); err != nil {
			continue // not dated by us: leave it
		}
		if time.Since(time.Unix(built, 0)) < staleAfter {
			continue
		}
		ident := pgx.Identifier{t.Name}.Sanitize()
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" IS_TEMPLATE false"); err != nil {
			return fmt.Errorf("unmark stale template %s: %w", t.Name, err)
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop stale template %s: %w", t.Name, err)
		}
		delete(s.templates, t.Name)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

// clone creates a database from tpl with the same grants the bootstrap gives fleetedge.
func (s *server) clone(ctx context.Context, tpl string) (*DB, error) {
	name := fmt.Sprintf("%s%d_%s", testDBPrefix, os.Getpid(), randomHex(6))
	conn, err := s.admin(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background()) //nolint:errcheck
	ident := pgx.Identifier{name}.Sanitize()
	stmts := []string{
		"CREATE DATABASE " + ident + " TEMPLATE " + pgx.Identifier{tpl}.Sanitize() + " OWNER " + migratorRole,
		"REVOKE ALL ON DATABASE " + ident + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + ident + " TO fleetedge_app, fleetedge_reporting",
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("create test database %s: %w", name, err)
		}
	}
	db := &DB{Name: name}
	for _, d := range []struct {
		dst *string
		src string
	}{{&db.AppDSN, s.appDSN}, {&db.MigratorDSN, s.migratorDSN}, {&db.ReportingDSN, s.reportingDSN}, {&db.SuperuserDSN, s.adminDSN}} {
		if *d.dst, err = withDatabase(d.src, name); err != nil {
			return nil, err
		}
	}
	if db.Pool, err = pgxpool.New(ctx, db.AppDSN); err != nil {
		return nil, fmt.Errorf("pool for %s: %w", name, err)
	}
	return db, nil
}

func (s *server) drop(ctx context.Context, name string) error {
	conn, err := s.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) //nolint:errcheck
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return nil
}

// dropOrphans drops test databases whose creating process no longer exists (killed runs).
func (s *server) dropOrphans(ctx context.Context) error {
	conn, err := s.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) //nolint:errcheck
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", testDBPrefix)
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list test databases: %w", err)
	}
	for _, n := range names {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(n, testDBPrefix), "_")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // not ours to judge, or its process is alive
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop orphaned %s: %w", n, err)
		}
	}
	return nil
}

// withDatabase returns dsn (a postgres:// URL) with its database replaced by db.
func withDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("pgtest: parse DSN from postgres.sh env: %w", err)
	}
	u.Path = "/" + db
	return u.String(), nil
}
