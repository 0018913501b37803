package deploycheck

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetedge/fleetedge/cloud/internal/cloudsvc"
	"github.com/fleetedge/fleetedge/cloud/internal/gatewayauth"
)

var update = flag.Bool("update", false, "rewrite deploy/nats/auth.conf from the example roster")

// repo is the repository root, from this package's directory.
var repo = filepath.Join("..", "..", "..")

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNATSAuthConf(t *testing.T) {
	ro, err := gatewayauth.Load(filepath.Join(repo, "deploy", "nats", "roster.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gatewayauth.WriteServerConfig(&buf, ro, gatewayauth.DefaultReplyTTL); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repo, "deploy", "nats", "auth.conf")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, "deploy/nats/auth.conf"); got != buf.String() {
		t.Fatalf("deploy/nats/auth.conf differs from the example roster rendered by gatewayauth; run with -update")
	}
}

// TestNATSClusterConf parses deploy/nats/nats.conf (with auth.conf) with nats-server's parser,
// TLS files and the store directory pointed at a temporary directory.
func TestNATSClusterConf(t *testing.T) {
	dir := t.TempDir()
	writeTLS(t, dir, "ca.pem", "server.pem", "server-key.pem")
	writeTLS(t, dir, "route-ca.pem", "route.pem", "route-key.pem")
	conf := read(t, "deploy/nats/nats.conf")
	conf = strings.ReplaceAll(conf, "/etc/nats/tls/", dir+"/")
	conf = strings.ReplaceAll(conf, "/var/lib/nats/jetstream", filepath.Join(dir, "js"))
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), []byte(read(t, "deploy/nats/auth.conf")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
	if err != nil {
		t.Fatalf("nats-server rejects deploy/nats/nats.conf: %v", err)
	}
	switch {
	case opts.ServerName != "nats-1":
		t.Errorf("server name %q, want it from NATS_SERVER_NAME", opts.ServerName)
	case !opts.JetStream || !opts.SyncAlways:
		t.Errorf("jetstream %v sync always %v: both must be on", opts.JetStream, opts.SyncAlways)
	case opts.TLSConfig == nil:
		t.Error("client listener without TLS")
	case opts.Cluster.Name != "fleetedge" || len(opts.Routes) != 3:
		t.Errorf("cluster %q with %d routes", opts.Cluster.Name, len(opts.Routes))
	}
	if opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("routes must authenticate each other with client certificates (cluster tls verify)")
	}
	ro, err := gatewayauth.Load(filepath.Join(repo, "deploy", "nats", "roster.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]*server.NkeyUser{}
	for _, u := range opts.Nkeys {
		users[u.Nkey] = u
	}
	if len(users) != len(ro.Gateways)+len(ro.Services) {
		t.Fatalf("%d users in the cluster config, roster has %d", len(users), len(ro.Gateways)+len(ro.Services))
	}
	for _, g := range ro.Gateways {
		u := users[g.NKey]
		if u == nil || u.Account == nil || u.Account.Name != gatewayauth.Account {
			t.Fatalf("gateway %s missing or outside account %s", g.ID, gatewayauth.Account)
		}
		if want := gatewayauth.GrantsFor(g, 0).Permissions(); !reflect.DeepEqual(u.Permissions, want) {
			t.Errorf("gateway %s: cluster permissions differ from the embedded server's", g.ID)
		}
	}
}

// writeTLS writes a self-signed CA and a certificate signed by it: nats-server loads the
// files while parsing.
func writeTLS(t *testing.T, dir, caName, certName, keyName string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"}, DNSNames: []string{"nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, blk := range map[string]*pem.Block{
		caName: {Type: "CERTIFICATE", Bytes: caDER}, certName: {Type: "CERTIFICATE", Bytes: der},
		keyName: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// table is one CREATE TABLE: its columns in order and its engine clauses that must agree.
type table struct {
	columns   []string // "name Type"
	partition string
	order     string
}

var (
	createRE    = regexp.MustCompile(`(?is)CREATE TABLE IF NOT EXISTS\s+(?:fleetedge\.)?(\w+)(?:\s+ON CLUSTER \w+)?\s*\((.*?)\)\s*ENGINE\s*=\s*(.*?)(?:;|$)`)
	partitionRE = regexp.MustCompile(`(?i)PARTITION BY\s+(.+)`)
	orderRE     = regexp.MustCompile(`(?i)ORDER BY\s+(.+)`)
	distRE      = regexp.MustCompile(`(?is)CREATE TABLE IF NOT EXISTS\s+fleetedge\.(\w+)\s+ON CLUSTER fleetedge\s+AS\s+fleetedge\.(\w+)\s+ENGINE\s*=\s*Distributed\(fleetedge,\s*fleetedge,\s*(\w+),\s*cityHash64\(city, vehicle\)\)`)
	spaceRE     = regexp.MustCompile(`\s+`)
)

func parseTables(sql string) map[string]table {
	out := map[string]table{}
	for _, m := range createRE.FindAllStringSubmatch(sql, -1) {
		var tb table
		for _, col := range strings.Split(m[2], ",\n") {
			if c := spaceRE.ReplaceAllString(strings.TrimSpace(col), " "); c != "" {
				tb.columns = append(tb.columns, c)
			}
		}
		for _, line := range strings.Split(m[3], "\n") {
			if p := partitionRE.FindStringSubmatch(line); p != nil {
				tb.partition = strings.TrimSpace(p[1])
			}
			if o := orderRE.FindStringSubmatch(line); o != nil {
				tb.order = strings.TrimSpace(o[1])
			}
		}
		out[m[1]] = tb
	}
	return out
}

// migrationSQL returns the string literals of chstore's migrations() (its DDL), read from the
// source: the function is unexported and this check must not need a ClickHouse server.
func migrationSQL(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(repo, "cloud", "internal", "chstore", "migrate.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "migrations" {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && strings.ContainsAny(s, " \n") {
					stmts = append(stmts, s)
				}
			}
			return true
		})
	}
	if len(stmts) == 0 {
		t.Fatal("no migrations found in chstore/migrate.go")
	}
	return stmts
}

func TestClickHouseClusterDDL(t *testing.T) {
	stmts := migrationSQL(t)
	for _, s := range stmts {
		if up := strings.ToUpper(s); !strings.Contains(up, "CREATE TABLE IF NOT EXISTS") {
			t.Errorf("chstore has a migration step deploy/clickhouse/cluster.sql does not mirror (update it, then this check):\n%s", s)
		}
	}
	single := parseTables(strings.Join(stmts, ";\n"))
	cluster := parseTables(read(t, "deploy/clickhouse/cluster.sql"))
	dists := map[string]string{}
	for _, m := range distRE.FindAllStringSubmatch(read(t, "deploy/clickhouse/cluster.sql"), -1) {
		if m[2] != m[3] {
			t.Errorf("distributed %s copies %s but routes to %s", m[1], m[2], m[3])
		}
		dists[m[1]] = m[2]
	}
	if len(single) == 0 {
		t.Fatal("no tables parsed from the migrations")
	}
	for name, want := range single {
		local := name + "_local"
		if dists[name] != local {
			t.Errorf("table %s: no Distributed table over %s in cluster.sql", name, local)
		}
		got, ok := cluster[local]
		if !ok {
			t.Errorf("table %s: no %s in cluster.sql", name, local)
			continue
		}
		if !slices.Equal(got.columns, want.columns) {
			t.Errorf("table %s columns differ:\ncluster %q\nchstore %q", name, got.columns, want.columns)
		}
		if got.partition != want.partition || got.order != want.order {
			t.Errorf("table %s keys differ: cluster %q/%q, chstore %q/%q", name, got.partition, got.order, want.partition, want.order)
		}
	}
	if len(single) != len(dists) {
		t.Errorf("cluster.sql has %d distributed tables, chstore %d tables", len(dists), len(single))
	}
}

var metricRE = regexp.MustCompile(`\bfleetedge_[a-z0-9_]+\b`)

// exportedMetrics collects metric names from the Go sources of edge, cloud and shared: full
// string literals, and the outbox's "fleetedge_outbox_"+name descriptors.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	litRE := regexp.MustCompile(`"(fleetedge_[a-z0-9_]+)"`)
	prefixRE := regexp.MustCompile(`"(fleetedge_[a-z0-9_]+_)"\s*\+`)
	descRE := regexp.MustCompile(`desc\("([a-z0-9_]+)"`)
	for _, mod := range []string{"edge", "cloud", "shared"} {
		err := filepath.WalkDir(filepath.Join(repo, mod), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			src := string(b)
			for _, m := range litRE.FindAllStringSubmatch(src, -1) {
				names[m[1]] = true
			}
			for _, pm := range prefixRE.FindAllStringSubmatch(src, -1) {
				for _, dm := range descRE.FindAllStringSubmatch(src, -1) {
					names[pm[1]+dm[1]] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestAlertsUseExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	rules := read(t, "deploy/prometheus/alerts.yml")
	used := metricRE.FindAllString(rules, -1)
	if len(used) < 10 {
		t.Fatalf("only %d metric references found in alerts.yml", len(used))
	}
	for _, m := range used {
		base := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suf); ok && exported[b] {
				base = b
			}
		}
		if !exported[base] {
			t.Errorf("alerts.yml uses %s, which no package exports", m)
		}
	}
}

// TestCloudConfigs loads the cloud configuration files of the Kubernetes manifests the way
// the binary does (file, then the environment the manifests set from Secrets).
func TestCloudConfigs(t *testing.T) {
	env := map[string]string{
		"FLEETEDGE_PG_APP_DSN":      "postgres://fleetedge_app:x@pg:5432/fleetedge?sslmode=verify-full",
		"FLEETEDGE_PG_MIGRATOR_DSN": "postgres://fleetedge_migrator:x@pg:5432/fleetedge?sslmode=verify-full",
		"FLEETEDGE_CH_DSN":          "clickhouse://fleetedge_ingest:x@ch:9000/fleetedge?secure=true",
	}
	for _, tc := range []struct {
		file string
		role cloudsvc.Role
	}{{"cloud-api.json", cloudsvc.RoleAPI}, {"cloud-ingest.json", cloudsvc.RoleIngest}} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(repo, "deploy", "kubernetes", tc.file)
			inv, err := cloudsvc.LoadConfig([]string{"--config", path}, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("load %s: %v", tc.file, err)
			}
			c := inv.Config
			if c.Role != tc.role || c.NATS.URL.Reveal() == "" || c.NATS.NkeySeedFile == "" || c.NATS.Stream.Replicas != 3 {
				t.Fatalf("%s: role %s, nats url %q, seed %q, replicas %d", tc.file, c.Role, c.NATS.URL, c.NATS.NkeySeedFile, c.NATS.Stream.Replicas)
			}
			if c.ClickHouse.Migrate {
				t.Errorf("%s: chstore migrations would create single-node tables on the cluster", tc.file)
			}
			if c.Role == cloudsvc.RoleAPI && c.Postgres.Migrate {
				t.Errorf("%s: only the ingest role migrates PostgreSQL", tc.file)
			}
		})
	}
	// One machine (systemd): embedded NATS reachable by gateways, so TLS and a roster.
	t.Run("systemd cloud.json", func(t *testing.T) {
		path := filepath.Join(repo, "deploy", "systemd", "cloud.json")
		inv, err := cloudsvc.LoadConfig([]string{"--config", path}, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		c := inv.Config
		if c.NATS.URL != "" || c.NATS.RosterFile == "" || c.NATS.TLSCertFile == "" || c.NATS.FsyncInterval != 0 {
			t.Fatalf("embedded NATS without roster, TLS or fsync: %+v", c.NATS)
		}
		// The same file without its roster must be refused: the listener is on 0.0.0.0.
		openConf := strings.Replace(read(t, "deploy/systemd/cloud.json"), `"roster_file"`, `"server_name_unused_roster"`, 1)
		openConf = strings.Replace(openConf, `"server_name_unused_roster": "/etc/fleetedge/nats-roster.json",`, "", 1)
		openPath := filepath.Join(t.TempDir(), "cloud.json")
		if err := os.WriteFile(openPath, []byte(openConf), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := cloudsvc.LoadConfig([]string{"--config", openPath}, func(k string) string { return env[k] }, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "without authentication") {
			t.Fatalf("embedded listener on 0.0.0.0 without a roster: %v", err)
		}
	})
	// Environment variable names the manifests and units set must be settings of the binary.
	known := regexp.MustCompile(`"(FLEETEDGE_CLOUD_[A-Z0-9_]+|FLEETEDGE_PG_[A-Z_]+|FLEETEDGE_CH_[A-Z_]+)"`).FindAllStringSubmatch(read(t, "cloud/internal/cloudsvc/load.go"), -1)
	names := map[string]bool{}
	for _, m := range known {
		names[m[1]] = true
	}
	for _, f := range []string{"deploy/kubernetes/cloud-api.yaml", "deploy/kubernetes/cloud-ingest.yaml", "deploy/systemd/fleetedge-cloud.service"} {
		for _, m := range regexp.MustCompile(`\bFLEETEDGE_(?:CLOUD|PG|CH)_[A-Z0-9_]+`).FindAllString(read(t, f), -1) {
			if !names[m] {
				t.Errorf("%s sets %s, which the cloud binary does not read", f, m)
			}
		}
	}
}
