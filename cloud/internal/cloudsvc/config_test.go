package cloudsvc

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/shared/obs"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default() must be valid: %v", err)
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(file, []byte(`{
		"role": "ingest",
		"http": {"addr": "127.0.0.1:9000"},
		"log": {"level": "debug", "format": "json"},
		"nats": {"port": 4333, "stream": {"max_age": "48h"}}
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envMap(map[string]string{
		ConfigEnv:                   file,
		"FLEETEDGE_CLOUD_HTTP_ADDR": "127.0.0.1:9001", // env beats file
		"FLEETEDGE_CLOUD_NATS_PORT": "4444",
		"FLEETEDGE_PG_APP_DSN":      "postgres://app:envpw@db:5432/x",
	})
	inv, err := LoadConfig([]string{"--nats-port=4555", "--ch-migrate=false", "--pg-migrate"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := inv.Config
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"role from file", c.Role, RoleIngest},
		{"log from file", c.Log.Format, obs.LogJSON},
		{"http addr env over file", c.HTTP.Addr, "127.0.0.1:9001"},
		{"nats port flag over env over file", c.NATS.Port, 4555},
		{"stream max age from file", c.NATS.Stream.MaxAge.D(), 48 * time.Hour},
		{"stream dup window default kept", c.NATS.Stream.DuplicateWindow.D(), 5 * time.Minute},
		{"pg dsn from env", c.Postgres.DSN.Reveal(), "postgres://app:envpw@db:5432/x"},
		{"bool flag with value", c.ClickHouse.Migrate, false},
		{"bool flag without value", c.Postgres.Migrate, true},
		{"store dir under data dir", c.Bus().Embedded.StoreDir, filepath.Join(".data", "nats")},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.json", `{"htpp": {"addr": ":1"}}`)
	badDur := write("dur.json", `{"startup_timeout": 30}`)
	trailing := write("trail.json", `{} {}`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"unknown flag", []string{"--nope"}, nil, []string{"flag provided but not defined"}},
		{"positional", []string{"extra"}, nil, []string{"unexpected arguments"}},
		{"bad role", []string{"--role=web"}, nil, []string{"role", `"web"`}},
		{"bad port env", nil, map[string]string{"FLEETEDGE_CLOUD_NATS_PORT": "forty"}, []string{"FLEETEDGE_CLOUD_NATS_PORT", "integer"}},
		{"bad duration flag", []string{"--startup-timeout=soon"}, nil, []string{"--startup-timeout", "duration"}},
		{"bad bool", []string{"--pg-migrate=maybe"}, nil, []string{"--pg-migrate", "true or false"}},
		{"missing file", []string{"--config", filepath.Join(dir, "none.json")}, nil, []string{"config file", "no such file"}},
		{"unknown key in file", []string{"--config", typo}, nil, []string{"unknown field", "htpp"}},
		{"number for duration", []string{"--config", trailing}, nil, []string{"trailing data"}},
		{"duration as number", []string{"--config", badDur}, nil, []string{"duration must be a string"}},
		{"bad http addr", []string{"--http-addr=localhost"}, nil, []string{"http.addr", "host:port"}},
		{"bad log level", []string{"--log-level=loud"}, nil, []string{"log", "loud"}},
		{"empty pg dsn", []string{"--pg-dsn="}, nil, []string{"postgres.dsn"}},
		{"drain over shutdown", []string{"--drain-delay=30s", "--shutdown-timeout=10s"}, nil, []string{"drain_delay"}},
		{"nats problems reported together", []string{"--nats-port=99999", "--stream-max-bytes=0"}, nil, []string{"port 99999", "max bytes"}},
		{"embedded replicas", []string{"--stream-replicas=3"}, nil, []string{"single node"}},
		{"secret not echoed", []string{"--nats-url=http://u:hunter2@h:1"}, nil, []string{"nats", "want nats://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(tt.args, envMap(tt.env), io.Discard)
			if err == nil {
				t.Fatal("want an error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not wrap ErrConfig: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}

func TestRoleAPIIgnoresNATSSettings(t *testing.T) {
	// NATS settings are only validated for roles that run NATS.
	if _, err := LoadConfig([]string{"--role=api", "--nats-port=99999"}, envMap(nil), io.Discard); err != nil {
		t.Fatalf("role api must not validate NATS: %v", err)
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := LoadConfig([]string{"--help"}, envMap(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("want flag.ErrHelp, got %v", err)
	}
	for _, s := range configTable.Settings {
		if !strings.Contains(out.String(), "-"+s.Flag) || !strings.Contains(out.String(), s.Env) {
			t.Errorf("--help misses %s / %s", s.Flag, s.Env)
		}
	}
	if strings.Contains(out.String(), "fleetedge-app-dev") {
		t.Error("--help shows the default password")
	}
	if !strings.Contains(SettingsTable(), "`--nats-port` | `FLEETEDGE_CLOUD_NATS_PORT` | `4222`") {
		t.Errorf("settings table:\n%s", SettingsTable())
	}
}

func TestSecretsMasked(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/x?sslmode=disable", "postgres://app:xxxxx@db:5432/x?sslmode=disable"},
		{"clickhouse://default:s3cret@ch:9000/db", "clickhouse://default:xxxxx@ch:9000/db"},
		{"clickhouse://ch:9000/db?username=u&password=s3cret", "clickhouse://ch:9000/db?password=xxxxx&username=u"},
		{"host=db user=app password=s3cret dbname=x", "host=db user=app password=xxxxx dbname=x"},
		{"nats://s3cret@n1:4222,nats://u:s3cret@n2:4222", "nats://xxxxx@n1:4222,nats://u:xxxxx@n2:4222"},
		{"postgres://app@db/x", "postgres://app@db/x"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Secret(tt.in).String(); got != tt.want {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	c := Default()
	c.Postgres.DSN = "postgres://app:s3cret@db/x"
	c.NATS.URL = "nats://u:s3cret@n:4222"
	if v := fmt.Sprintf("%s", c.LogValue().Any()); strings.Contains(v, "s3cret") || strings.Contains(v, "fleetedge-migrator-dev") || !strings.Contains(v, "xxxxx") {
		t.Errorf("config log value leaks or is not masked: %s", v)
	}
}

func TestExampleConfigFile(t *testing.T) {
	// deploy/config/cloud.example.json must load (no unknown keys) and equal the defaults: it
	// documents them.
	path := filepath.Join("..", "..", "..", "deploy", "config", "cloud.example.json")
	inv, err := LoadConfig([]string{"--config", path}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(inv.Config)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) || inv.Config.Postgres.DSN != Default().Postgres.DSN {
		t.Fatalf("example differs from defaults:\n got %s\nwant %s", got, want)
	}
}
