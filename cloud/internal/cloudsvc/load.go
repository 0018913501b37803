package cloudsvc

import (
	"io"

	"github.com/fleetedge/fleetedge/shared/settings"
)

// ConfigEnv names the environment variable holding the config file path (flag --config).
const ConfigEnv = "FLEETEDGE_CLOUD_CONFIG"

// configTable lists every flag and environment variable; --help and SettingsTable come from
// it. Database DSN variables share their names with what deploy/local/postgres.sh and
// clickhouse.sh print, so `eval "$(deploy/local/postgres.sh env)"` configures the cloud.
var configTable = settings.Table[Config]{
	Program:          "cloud",
	ConfigEnv:        ConfigEnv,
	PrintConfigUsage: "print the effective configuration (secrets masked) and exit",
	EmptyDefault:     "",
	Err:              ErrConfig,
	Settings: []settings.Setting[Config]{
		settings.String("role", "FLEETEDGE_CLOUD_ROLE", "components to run: all, api, ingest", func(c *Config) *string { return (*string)(&c.Role) }),
		settings.String("data-dir", "FLEETEDGE_CLOUD_DATA_DIR", "directory for local state (embedded NATS store)", func(c *Config) *string { return &c.DataDir }),
		settings.String("log-level", "FLEETEDGE_CLOUD_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
		settings.String("log-format", "FLEETEDGE_CLOUD_LOG_FORMAT", "text or json", func(c *Config) *string { return (*string)(&c.Log.Format) }),
		settings.String("http-addr", "FLEETEDGE_CLOUD_HTTP_ADDR", "HTTP listen address (/healthz /readyz /metrics, APIs)", func(c *Config) *string { return &c.HTTP.Addr }),
		settings.Duration("check-timeout", "FLEETEDGE_CLOUD_CHECK_TIMEOUT", "timeout of each readiness check", func(c *Config) *Duration { return &c.HTTP.CheckTimeout }),
		settings.Masked("pg-dsn", "FLEETEDGE_PG_APP_DSN", "PostgreSQL DSN of the application role", func(c *Config) *Secret { return &c.Postgres.DSN }),
		settings.Masked("pg-migrator-dsn", "FLEETEDGE_PG_MIGRATOR_DSN", "PostgreSQL DSN of the migration role", func(c *Config) *Secret { return &c.Postgres.MigratorDSN }),
		settings.Bool("pg-migrate", "FLEETEDGE_CLOUD_PG_MIGRATE", "apply PostgreSQL migrations at start", func(c *Config) *bool { return &c.Postgres.Migrate }),
		settings.Masked("ch-dsn", "FLEETEDGE_CH_DSN", "ClickHouse native DSN", func(c *Config) *Secret { return &c.ClickHouse.DSN }),
		settings.Bool("ch-migrate", "FLEETEDGE_CLOUD_CH_MIGRATE", "apply ClickHouse migrations at start", func(c *Config) *bool { return &c.ClickHouse.Migrate }),
		settings.Masked("nats-url", "FLEETEDGE_CLOUD_NATS_URL", "external NATS URL(s); empty runs NATS embedded", func(c *Config) *Secret { return &c.NATS.URL }),
		settings.String("nats-ca-file", "FLEETEDGE_CLOUD_NATS_CA_FILE", "CA to verify an external NATS", func(c *Config) *string { return &c.NATS.CAFile }),
		settings.String("nats-cert-file", "FLEETEDGE_CLOUD_NATS_CERT_FILE", "client certificate for an external NATS", func(c *Config) *string { return &c.NATS.CertFile }),
		settings.String("nats-key-file", "FLEETEDGE_CLOUD_NATS_KEY_FILE", "client key for an external NATS", func(c *Config) *string { return &c.NATS.KeyFile }),
		settings.String("nats-host", "FLEETEDGE_CLOUD_NATS_HOST", "embedded NATS client listener host", func(c *Config) *string { return &c.NATS.Host }),
		settings.Int("nats-port", "FLEETEDGE_CLOUD_NATS_PORT", "embedded NATS client port (0 = random)", func(c *Config) *int { return &c.NATS.Port }),
		settings.String("nats-store-dir", "FLEETEDGE_CLOUD_NATS_STORE_DIR", "embedded JetStream store (default <data-dir>/nats)", func(c *Config) *string { return &c.NATS.StoreDir }),
		settings.String("nats-server-name", "FLEETEDGE_CLOUD_NATS_SERVER_NAME", "embedded NATS server name (keep stable)", func(c *Config) *string { return &c.NATS.ServerName }),
		settings.Int64("nats-max-store", "FLEETEDGE_CLOUD_NATS_MAX_STORE", "embedded JetStream disk cap in bytes (0 = nats default)", func(c *Config) *int64 { return &c.NATS.MaxStore }),
		settings.Duration("nats-fsync-interval", "FLEETEDGE_CLOUD_NATS_FSYNC_INTERVAL", "0 = fsync every write; >0 = background fsync (may lose acked data on power loss)", func(c *Config) *Duration { return &c.NATS.FsyncInterval }),
		settings.String("nats-tls-cert", "FLEETEDGE_CLOUD_NATS_TLS_CERT", "embedded NATS listener TLS certificate (enables TLS)", func(c *Config) *string { return &c.NATS.TLSCertFile }),
		settings.String("nats-tls-key", "FLEETEDGE_CLOUD_NATS_TLS_KEY", "embedded NATS listener TLS key", func(c *Config) *string { return &c.NATS.TLSKeyFile }),
		settings.Masked("fieldcrypt-keys", "FLEETEDGE_FIELDCRYPT_KEYS", "encryption keyring for personal data at rest, id:BASE64KEY,… (required by the API roles)", func(c *Config) *Key { return &c.FieldCrypt.Keys }),
		settings.String("fieldcrypt-current-key", "FLEETEDGE_FIELDCRYPT_CURRENT_KEY", "id of the keyring key that encrypts", func(c *Config) *string { return &c.FieldCrypt.CurrentKey }),
		settings.Masked("rider-jwt-keys", "FLEETEDGE_RIDER_JWT_KEYS", "rider access-token signing keys, id:BASE64SEED,… (empty: generated at start, dev only)", func(c *Config) *Key { return &c.Riders.JWTKeys }),
		settings.String("rider-jwt-current-key", "FLEETEDGE_RIDER_JWT_CURRENT_KEY", "id of the signing key", func(c *Config) *string { return &c.Riders.JWTCurrentKey }),
		settings.Duration("rider-access-ttl", "FLEETEDGE_RIDER_ACCESS_TTL", "rider access-token lifetime", func(c *Config) *Duration { return &c.Riders.AccessTTL }),
		settings.Duration("rider-refresh-ttl", "FLEETEDGE_RIDER_REFRESH_TTL", "rider refresh-token lifetime", func(c *Config) *Duration { return &c.Riders.RefreshTTL }),
		settings.Masked("rider-oidc-state-key", "FLEETEDGE_RIDER_OIDC_STATE_KEY", "base64 key (>= 32 bytes) signing the OIDC login state (providers in the config file)", func(c *Config) *Key { return &c.Riders.OIDCStateKey }),
		settings.String("admin-bootstrap-email", "FLEETEDGE_ADMIN_BOOTSTRAP_EMAIL", "creates the first super admin with this email when no admin exists", func(c *Config) *string { return &c.Admin.BootstrapEmail }),
		settings.String("admin-bootstrap-password-file", "FLEETEDGE_ADMIN_BOOTSTRAP_PASSWORD_FILE", "file holding the first super admin's password", func(c *Config) *string { return &c.Admin.BootstrapPasswordFile }),
		settings.String("nats-roster-file", "FLEETEDGE_CLOUD_NATS_ROSTER_FILE", "gateway roster (ids, cities, public nkeys); required unless nats-host is loopback", func(c *Config) *string { return &c.NATS.RosterFile }),
		settings.Duration("nats-gateway-reply-ttl", "FLEETEDGE_CLOUD_NATS_GATEWAY_REPLY_TTL", "how long a gateway may answer a command request (0 = 11m)", func(c *Config) *Duration { return &c.NATS.GatewayReplyTTL }),
		settings.String("nats-nkey-seed-file", "FLEETEDGE_CLOUD_NATS_NKEY_SEED_FILE", "nkey seed authenticating the cloud to an external NATS", func(c *Config) *string { return &c.NATS.NkeySeedFile }),
		settings.String("nats-tls-client-ca", "FLEETEDGE_CLOUD_NATS_TLS_CLIENT_CA", "require client certificates signed by this CA (mTLS)", func(c *Config) *string { return &c.NATS.TLSClientCA }),
		settings.Duration("stream-duplicate-window", "FLEETEDGE_CLOUD_STREAM_DUPLICATE_WINDOW", "FLEET_UP Nats-Msg-Id dedup window", func(c *Config) *Duration { return &c.NATS.Stream.DuplicateWindow }),
		settings.Duration("stream-max-age", "FLEETEDGE_CLOUD_STREAM_MAX_AGE", "FLEET_UP retention (0 = forever)", func(c *Config) *Duration { return &c.NATS.Stream.MaxAge }),
		settings.Int64("stream-max-bytes", "FLEETEDGE_CLOUD_STREAM_MAX_BYTES", "FLEET_UP size cap in bytes (-1 = unlimited); full = new publishes refused", func(c *Config) *int64 { return &c.NATS.Stream.MaxBytes }),
		settings.Int32("stream-max-msg-size", "FLEETEDGE_CLOUD_STREAM_MAX_MSG_SIZE", "FLEET_UP max message size in bytes", func(c *Config) *int32 { return &c.NATS.Stream.MaxMsgSize }),
		settings.Int("stream-replicas", "FLEETEDGE_CLOUD_STREAM_REPLICAS", "FLEET_UP replicas (1 embedded, 3 in a cluster)", func(c *Config) *int { return &c.NATS.Stream.Replicas }),
		settings.String("payments-provider", "FLEETEDGE_PAYMENTS_PROVIDER", "payment provider for top-ups: sandbox (test cards, no real money)", func(c *Config) *string { return &c.Payments.Provider }),
		settings.Masked("payments-sandbox-webhook-secret", "FLEETEDGE_PAYMENTS_SANDBOX_WEBHOOK_SECRET", "base64 secret (>= 16 bytes) signing the sandbox's webhooks (empty: generated at start, dev only)", func(c *Config) *Key { return &c.Payments.SandboxWebhookSecret }),
		settings.String("payments-webhook-base-url", "FLEETEDGE_PAYMENTS_WEBHOOK_BASE_URL", "rider API base URL the payment provider posts webhooks to (default http://<http-addr>)", func(c *Config) *string { return &c.Payments.WebhookBaseURL }),
		settings.Duration("startup-timeout", "FLEETEDGE_CLOUD_STARTUP_TIMEOUT", "bound on connecting/migrating at start (retries inside)", func(c *Config) *Duration { return &c.StartupTimeout }),
		settings.Duration("shutdown-timeout", "FLEETEDGE_CLOUD_SHUTDOWN_TIMEOUT", "bound on graceful shutdown", func(c *Config) *Duration { return &c.ShutdownTimeout }),
		settings.Duration("drain-delay", "FLEETEDGE_CLOUD_DRAIN_DELAY", "time /readyz reports stopping before listeners close", func(c *Config) *Duration { return &c.DrainDelay }),
	},
}

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
	cfg, printConfig, err := configTable.Load(args, getenv, out, Default())
	if err != nil {
		return Invocation{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Invocation{}, err
	}
	return Invocation{Config: cfg, PrintConfig: printConfig}, nil
}

// SettingsTable renders every flag, environment variable and default as a Markdown table
// (for README.md).
func SettingsTable() string { return configTable.Markdown(Default()) }
