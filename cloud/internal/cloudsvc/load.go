package cloudsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration knob reachable from a flag and an environment variable. The
// table below is the single list of them; --help and the README table come from it.
type setting struct {
	flag   string
	env    string
	usage  string
	set    func(c *Config, v string) error
	get    func(c *Config) string
	isBool bool // the flag may be given without a value (--pg-migrate means true)
}

// rawFlag records a flag's text; it is applied to the Config after the file and environment.
type rawFlag struct {
	val    string
	isBool bool
}

func (f *rawFlag) String() string     { return f.val }
func (f *rawFlag) Set(v string) error { f.val = v; return nil }
func (f *rawFlag) IsBoolFlag() bool   { return f.isBool }

func strSetting(flagName, env, usage string, p func(*Config) *string) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error { *p(c) = v; return nil },
		func(c *Config) string { return *p(c) }, false}
}

func secretSetting(flagName, env, usage string, p func(*Config) *Secret) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error { *p(c) = Secret(v); return nil },
		func(c *Config) string { return p(c).String() }, false}
}

func keySetting(flagName, env, usage string, p func(*Config) *Key) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error { *p(c) = Key(v); return nil },
		func(c *Config) string { return p(c).String() }, false}
}

func boolSetting(flagName, env, usage string, p func(*Config) *bool) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*p(c) = b
			return nil
		},
		func(c *Config) string { return strconv.FormatBool(*p(c)) }, true}
}

func intSetting(flagName, env, usage string, p func(*Config) *int) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.Itoa(*p(c)) }, false}
}

func int64Setting(flagName, env, usage string, p func(*Config) *int64) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(*p(c), 10) }, false}
}

func int32Setting(flagName, env, usage string, p func(*Config) *int32) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("want a 32-bit integer, got %q", v)
			}
			*p(c) = int32(n)
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(int64(*p(c)), 10) }, false}
}

func durSetting(flagName, env, usage string, p func(*Config) *Duration) setting {
	return setting{flagName, env, usage,
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("want a duration like 30s or 5m, got %q", v)
			}
			*p(c) = Duration(d)
			return nil
		},
		func(c *Config) string { return p(c).String() }, false}
}

// settings lists every flag and environment variable. Database DSN variables share their
// names with what deploy/local/postgres.sh and clickhouse.sh print, so
// `eval "$(deploy/local/postgres.sh env)"` configures the cloud.
var settings = []setting{
	strSetting("role", "FLEETEDGE_CLOUD_ROLE", "components to run: all, api, ingest", func(c *Config) *string { return (*string)(&c.Role) }),
	strSetting("data-dir", "FLEETEDGE_CLOUD_DATA_DIR", "directory for local state (embedded NATS store)", func(c *Config) *string { return &c.DataDir }),
	strSetting("log-level", "FLEETEDGE_CLOUD_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
	strSetting("log-format", "FLEETEDGE_CLOUD_LOG_FORMAT", "text or json", func(c *Config) *string { return (*string)(&c.Log.Format) }),
	strSetting("http-addr", "FLEETEDGE_CLOUD_HTTP_ADDR", "HTTP listen address (/healthz /readyz /metrics, APIs)", func(c *Config) *string { return &c.HTTP.Addr }),
	durSetting("check-timeout", "FLEETEDGE_CLOUD_CHECK_TIMEOUT", "timeout of each readiness check", func(c *Config) *Duration { return &c.HTTP.CheckTimeout }),
	secretSetting("pg-dsn", "FLEETEDGE_PG_APP_DSN", "PostgreSQL DSN of the application role", func(c *Config) *Secret { return &c.Postgres.DSN }),
	secretSetting("pg-migrator-dsn", "FLEETEDGE_PG_MIGRATOR_DSN", "PostgreSQL DSN of the migration role", func(c *Config) *Secret { return &c.Postgres.MigratorDSN }),
	boolSetting("pg-migrate", "FLEETEDGE_CLOUD_PG_MIGRATE", "apply PostgreSQL migrations at start", func(c *Config) *bool { return &c.Postgres.Migrate }),
	secretSetting("ch-dsn", "FLEETEDGE_CH_DSN", "ClickHouse native DSN", func(c *Config) *Secret { return &c.ClickHouse.DSN }),
	boolSetting("ch-migrate", "FLEETEDGE_CLOUD_CH_MIGRATE", "apply ClickHouse migrations at start", func(c *Config) *bool { return &c.ClickHouse.Migrate }),
	secretSetting("nats-url", "FLEETEDGE_CLOUD_NATS_URL", "external NATS URL(s); empty runs NATS embedded", func(c *Config) *Secret { return &c.NATS.URL }),
	strSetting("nats-ca-file", "FLEETEDGE_CLOUD_NATS_CA_FILE", "CA to verify an external NATS", func(c *Config) *string { return &c.NATS.CAFile }),
	strSetting("nats-cert-file", "FLEETEDGE_CLOUD_NATS_CERT_FILE", "client certificate for an external NATS", func(c *Config) *string { return &c.NATS.CertFile }),
	strSetting("nats-key-file", "FLEETEDGE_CLOUD_NATS_KEY_FILE", "client key for an external NATS", func(c *Config) *string { return &c.NATS.KeyFile }),
	strSetting("nats-host", "FLEETEDGE_CLOUD_NATS_HOST", "embedded NATS client listener host", func(c *Config) *string { return &c.NATS.Host }),
	intSetting("nats-port", "FLEETEDGE_CLOUD_NATS_PORT", "embedded NATS client port (0 = random)", func(c *Config) *int { return &c.NATS.Port }),
	strSetting("nats-store-dir", "FLEETEDGE_CLOUD_NATS_STORE_DIR", "embedded JetStream store (default <data-dir>/nats)", func(c *Config) *string { return &c.NATS.StoreDir }),
	strSetting("nats-server-name", "FLEETEDGE_CLOUD_NATS_SERVER_NAME", "embedded NATS server name (keep stable)", func(c *Config) *string { return &c.NATS.ServerName }),
	int64Setting("nats-max-store", "FLEETEDGE_CLOUD_NATS_MAX_STORE", "embedded JetStream disk cap in bytes (0 = nats default)", func(c *Config) *int64 { return &c.NATS.MaxStore }),
	durSetting("nats-fsync-interval", "FLEETEDGE_CLOUD_NATS_FSYNC_INTERVAL", "0 = fsync every write; >0 = background fsync (may lose acked data on power loss)", func(c *Config) *Duration { return &c.NATS.FsyncInterval }),
	strSetting("nats-tls-cert", "FLEETEDGE_CLOUD_NATS_TLS_CERT", "embedded NATS listener TLS certificate (enables TLS)", func(c *Config) *string { return &c.NATS.TLSCertFile }),
	strSetting("nats-tls-key", "FLEETEDGE_CLOUD_NATS_TLS_KEY", "embedded NATS listener TLS key", func(c *Config) *string { return &c.NATS.TLSKeyFile }),
	keySetting("fieldcrypt-keys", "FLEETEDGE_FIELDCRYPT_KEYS", "encryption keyring for personal data at rest, id:BASE64KEY,… (required by the API roles)", func(c *Config) *Key { return &c.FieldCrypt.Keys }),
	strSetting("fieldcrypt-current-key", "FLEETEDGE_FIELDCRYPT_CURRENT_KEY", "id of the keyring key that encrypts", func(c *Config) *string { return &c.FieldCrypt.CurrentKey }),
	keySetting("rider-jwt-keys", "FLEETEDGE_RIDER_JWT_KEYS", "rider access-token signing keys, id:BASE64SEED,… (empty: generated at start, dev only)", func(c *Config) *Key { return &c.Riders.JWTKeys }),
	strSetting("rider-jwt-current-key", "FLEETEDGE_RIDER_JWT_CURRENT_KEY", "id of the signing key", func(c *Config) *string { return &c.Riders.JWTCurrentKey }),
	durSetting("rider-access-ttl", "FLEETEDGE_RIDER_ACCESS_TTL", "rider access-token lifetime", func(c *Config) *Duration { return &c.Riders.AccessTTL }),
	durSetting("rider-refresh-ttl", "FLEETEDGE_RIDER_REFRESH_TTL", "rider refresh-token lifetime", func(c *Config) *Duration { return &c.Riders.RefreshTTL }),
	keySetting("rider-oidc-state-key", "FLEETEDGE_RIDER_OIDC_STATE_KEY", "base64 key (>= 32 bytes) signing the OIDC login state (providers in the config file)", func(c *Config) *Key { return &c.Riders.OIDCStateKey }),
	strSetting("admin-bootstrap-email", "FLEETEDGE_ADMIN_BOOTSTRAP_EMAIL", "creates the first super admin with this email when no admin exists", func(c *Config) *string { return &c.Admin.BootstrapEmail }),
	strSetting("admin-bootstrap-password-file", "FLEETEDGE_ADMIN_BOOTSTRAP_PASSWORD_FILE", "file holding the first super admin's password", func(c *Config) *string { return &c.Admin.BootstrapPasswordFile }),
	strSetting("nats-roster-file", "FLEETEDGE_CLOUD_NATS_ROSTER_FILE", "gateway roster (ids, cities, public nkeys); required unless nats-host is loopback", func(c *Config) *string { return &c.NATS.RosterFile }),
	durSetting("nats-gateway-reply-ttl", "FLEETEDGE_CLOUD_NATS_GATEWAY_REPLY_TTL", "how long a gateway may answer a command request (0 = 11m)", func(c *Config) *Duration { return &c.NATS.GatewayReplyTTL }),
	strSetting("nats-nkey-seed-file", "FLEETEDGE_CLOUD_NATS_NKEY_SEED_FILE", "nkey seed authenticating the cloud to an external NATS", func(c *Config) *string { return &c.NATS.NkeySeedFile }),
	strSetting("nats-tls-client-ca", "FLEETEDGE_CLOUD_NATS_TLS_CLIENT_CA", "require client certificates signed by this CA (mTLS)", func(c *Config) *string { return &c.NATS.TLSClientCA }),
	durSetting("stream-duplicate-window", "FLEETEDGE_CLOUD_STREAM_DUPLICATE_WINDOW", "FLEET_UP Nats-Msg-Id dedup window", func(c *Config) *Duration { return &c.NATS.Stream.DuplicateWindow }),
	durSetting("stream-max-age", "FLEETEDGE_CLOUD_STREAM_MAX_AGE", "FLEET_UP retention (0 = forever)", func(c *Config) *Duration { return &c.NATS.Stream.MaxAge }),
	int64Setting("stream-max-bytes", "FLEETEDGE_CLOUD_STREAM_MAX_BYTES", "FLEET_UP size cap in bytes (-1 = unlimited); full = new publishes refused", func(c *Config) *int64 { return &c.NATS.Stream.MaxBytes }),
	int32Setting("stream-max-msg-size", "FLEETEDGE_CLOUD_STREAM_MAX_MSG_SIZE", "FLEET_UP max message size in bytes", func(c *Config) *int32 { return &c.NATS.Stream.MaxMsgSize }),
	intSetting("stream-replicas", "FLEETEDGE_CLOUD_STREAM_REPLICAS", "FLEET_UP replicas (1 embedded, 3 in a cluster)", func(c *Config) *int { return &c.NATS.Stream.Replicas }),
	durSetting("startup-timeout", "FLEETEDGE_CLOUD_STARTUP_TIMEOUT", "bound on connecting/migrating at start (retries inside)", func(c *Config) *Duration { return &c.StartupTimeout }),
	durSetting("shutdown-timeout", "FLEETEDGE_CLOUD_SHUTDOWN_TIMEOUT", "bound on graceful shutdown", func(c *Config) *Duration { return &c.ShutdownTimeout }),
	durSetting("drain-delay", "FLEETEDGE_CLOUD_DRAIN_DELAY", "time /readyz reports stopping before listeners close", func(c *Config) *Duration { return &c.DrainDelay }),
}

// ConfigEnv names the environment variable holding the config file path (flag --config).
const ConfigEnv = "FLEETEDGE_CLOUD_CONFIG"

// Invocation is what the command line asked for.
type Invocation struct {
	Config Config
	// PrintConfig: print the effective configuration (secrets masked) and exit.
	PrintConfig bool
}

// LoadConfig builds the configuration from, in increasing precedence: Default(), the JSON
// file named by --config or FLEETEDGE_CLOUD_CONFIG, environment variables, flags. getenv is
// injected (main passes os.Getenv). Usage text goes to out. A --help request returns
// flag.ErrHelp. The result is validated.
func LoadConfig(args []string, getenv func(string) string, out io.Writer) (Invocation, error) {
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	fs.SetOutput(out)
	def := Default()
	raw := make(map[string]*rawFlag, len(settings))
	for _, s := range settings {
		v := &rawFlag{val: s.get(&def), isBool: s.isBool}
		raw[s.flag] = v
		fs.Var(v, s.flag, s.usage+" (env "+s.env+")")
	}
	configPath := fs.String("config", "", "JSON config file (env "+ConfigEnv+")")
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets masked) and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cloud [flags]\n\nPrecedence: defaults < config file < environment < flags.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Invocation{}, err
		}
		return Invocation{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if fs.NArg() > 0 {
		return Invocation{}, fmt.Errorf("%w: unexpected arguments %q", ErrConfig, fs.Args())
	}

	cfg := def
	path := *configPath
	if path == "" {
		path = getenv(ConfigEnv)
	}
	if path != "" {
		if err := loadFile(path, &cfg); err != nil {
			return Invocation{}, err
		}
	}
	var errs []error
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.set(&cfg, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: env %s: %v", ErrConfig, s.env, err))
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range settings {
		if set[s.flag] {
			if err := s.set(&cfg, raw[s.flag].val); err != nil {
				errs = append(errs, fmt.Errorf("%w: flag --%s: %v", ErrConfig, s.flag, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Invocation{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Invocation{}, err
	}
	return Invocation{Config: cfg, PrintConfig: *printConfig}, nil
}

// loadFile overlays a JSON file on cfg. Unknown keys are errors (a typo must not silently
// leave a default in place).
func loadFile(path string, cfg *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %w", ErrConfig, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("%w: config file %s: %v", ErrConfig, path, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: config file %s: trailing data after the JSON object", ErrConfig, path)
	}
	return nil
}

// SettingsTable renders every flag, environment variable and default as a Markdown table
// (for README.md).
func SettingsTable() string {
	def := Default()
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| `--config` | `%s` | | JSON config file |\n", ConfigEnv)
	for _, s := range settings {
		v := s.get(&def)
		if v != "" {
			v = "`" + v + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", s.flag, s.env, v, s.usage)
	}
	b.WriteString("| `--print-config` | | | print the effective configuration (secrets masked) and exit |\n")
	return b.String()
}
