package gateway

import (
	"io"

	"github.com/fleetedge/fleetedge/shared/settings"
)

// ConfigEnv names the environment variable holding the config file path (flag --config).
const ConfigEnv = "FLEETEDGE_GATEWAY_CONFIG"

// configTable lists every flag and environment variable; --help and
// SettingsTable come from it.
var configTable = settings.Table[Config]{
	Program:          "gateway",
	ConfigEnv:        ConfigEnv,
	PrintConfigUsage: "print the effective configuration and exit",
	EmptyDefault:     "``",
	Err:              ErrConfig,
	Settings: []settings.Setting[Config]{
		settings.String("city", "FLEETEDGE_GATEWAY_CITY", "city id served by this gateway (a-z 0-9 _ -)", func(c *Config) *string { return &c.City }),
		settings.String("gateway-id", "FLEETEDGE_GATEWAY_ID", "gateway id towards the cloud (a-z 0-9 _ -)", func(c *Config) *string { return &c.GatewayID }),
		settings.String("data-dir", "FLEETEDGE_GATEWAY_DATA_DIR", "directory of gateway.db (outbox + local config)", func(c *Config) *string { return &c.DataDir }),
		settings.String("log-level", "FLEETEDGE_GATEWAY_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
		settings.String("log-format", "FLEETEDGE_GATEWAY_LOG_FORMAT", "text or json", func(c *Config) *string { return (*string)(&c.Log.Format) }),
		settings.String("mqtt-addr", "FLEETEDGE_GATEWAY_MQTT_ADDR", "MQTT TCP listen address (empty disables)", func(c *Config) *string { return &c.MQTT.TCPAddr }),
		settings.String("mqtt-tls-addr", "FLEETEDGE_GATEWAY_MQTT_TLS_ADDR", "MQTT over TLS listen address (empty disables)", func(c *Config) *string { return &c.MQTT.TLSAddr }),
		settings.String("mqtt-tls-cert", "FLEETEDGE_GATEWAY_MQTT_TLS_CERT", "PEM certificate (chain) file for the TLS listener", func(c *Config) *string { return &c.MQTT.TLSCertFile }),
		settings.String("mqtt-tls-key", "FLEETEDGE_GATEWAY_MQTT_TLS_KEY", "PEM private key file for the TLS listener", func(c *Config) *string { return &c.MQTT.TLSKeyFile }),
		settings.String("mqtt-ws-addr", "FLEETEDGE_GATEWAY_MQTT_WS_ADDR", "MQTT over WebSocket listen address (empty disables)", func(c *Config) *string { return &c.MQTT.WSAddr }),
		settings.String("http-addr", "FLEETEDGE_GATEWAY_HTTP_ADDR", "HTTP listen address (/healthz /readyz /metrics /api/v1)", func(c *Config) *string { return &c.HTTP.Addr }),
		settings.Duration("check-timeout", "FLEETEDGE_GATEWAY_CHECK_TIMEOUT", "timeout of each readiness check", func(c *Config) *Duration { return &c.HTTP.CheckTimeout }),
		settings.String("zones", "FLEETEDGE_GATEWAY_ZONES", "GBFS v3 geofencing_zones.json to validate, store and apply (empty: use the stored zones)", func(c *Config) *string { return &c.ZonesFile }),
		settings.String("vehicles", "FLEETEDGE_GATEWAY_VEHICLES", "vehicles JSON (ids, credential hashes, types, normal limits) to store and apply (empty: use the stored list)", func(c *Config) *string { return &c.VehiclesFile }),
		settings.Duration("lost-after", "FLEETEDGE_GATEWAY_LOST_AFTER", "silence after which a vehicle is lost", func(c *Config) *Duration { return &c.LostAfter }),
		settings.Duration("sweep-interval", "FLEETEDGE_GATEWAY_SWEEP_INTERVAL", "how often silent vehicles are looked for", func(c *Config) *Duration { return &c.SweepInterval }),
		settings.Uint64("outbox-max-bytes", "FLEETEDGE_GATEWAY_OUTBOX_MAX_BYTES", "outbox soft bound in bytes; oldest telemetry dropped beyond (0 = unbounded)", func(c *Config) *uint64 { return &c.Outbox.MaxBytes }),
		settings.Uint64("outbox-max-records", "FLEETEDGE_GATEWAY_OUTBOX_MAX_RECORDS", "outbox soft bound in records (0 = unbounded)", func(c *Config) *uint64 { return &c.Outbox.MaxRecords }),
		settings.Uint64("outbox-max-event-bytes", "FLEETEDGE_GATEWAY_OUTBOX_MAX_EVENT_BYTES", "hard cap on stored events; beyond it reports are not acknowledged (0 = disk is the limit)", func(c *Config) *uint64 { return &c.Outbox.MaxEventBytes }),
		settings.Int("default-limit-kmh", "FLEETEDGE_GATEWAY_DEFAULT_LIMIT_KMH", "normal speed limit of vehicles without their own (1-30)", func(c *Config) *int { return &c.Rules.DefaultLimitKmh }),
		settings.Float64("hysteresis-metres", "FLEETEDGE_GATEWAY_HYSTERESIS_METRES", "a zone border must be this far behind a fix before the change is acted on (0 = off)", func(c *Config) *float64 { return &c.Rules.HysteresisMetres }),
		settings.Duration("hysteresis-dwell", "FLEETEDGE_GATEWAY_HYSTERESIS_DWELL", "a new zone verdict must persist this long (0 = off)", func(c *Config) *Duration { return &c.Rules.HysteresisDwell }),
		settings.Duration("hysteresis-settle", "FLEETEDGE_GATEWAY_HYSTERESIS_SETTLE", "take a verdict that persisted this long even near a border (0 = never)", func(c *Config) *Duration { return &c.Rules.HysteresisSettle }),
		settings.String("cloud-nats-url", "FLEETEDGE_GATEWAY_CLOUD_NATS_URL", "the cloud's NATS URL for the uplink (empty: standalone)", func(c *Config) *string { return &c.Cloud.NATSURL }),
		settings.String("cloud-nats-ca", "FLEETEDGE_GATEWAY_CLOUD_NATS_CA", "CA file to verify the cloud's NATS", func(c *Config) *string { return &c.Cloud.CAFile }),
		settings.String("cloud-nats-cert", "FLEETEDGE_GATEWAY_CLOUD_NATS_CERT", "client certificate for the cloud's NATS (mTLS)", func(c *Config) *string { return &c.Cloud.CertFile }),
		settings.String("cloud-nats-key", "FLEETEDGE_GATEWAY_CLOUD_NATS_KEY", "client key for the cloud's NATS (mTLS)", func(c *Config) *string { return &c.Cloud.KeyFile }),
		settings.String("cloud-nats-nkey-seed", "FLEETEDGE_GATEWAY_CLOUD_NATS_NKEY_SEED", "this gateway's nkey seed file for the cloud's NATS", func(c *Config) *string { return &c.Cloud.NkeySeedFile }),
		settings.String("cloud-nats-creds", "FLEETEDGE_GATEWAY_CLOUD_NATS_CREDS", "NATS credentials file for the cloud link", func(c *Config) *string { return &c.Cloud.CredsFile }),
		settings.Duration("cloud-command-wait", "FLEETEDGE_GATEWAY_CLOUD_COMMAND_WAIT", "wait for the outcome of a cloud command without its own timeout", func(c *Config) *Duration { return &c.Cloud.CommandWait }),
		settings.String("ui-accounts", "FLEETEDGE_GATEWAY_UI_ACCOUNTS", "technicians' accounts JSON (usernames + argon2id hashes) to store and apply (empty: use the stored accounts)", func(c *Config) *string { return &c.UI.AccountsFile }),
		settings.String("ui-break-glass-user", "FLEETEDGE_GATEWAY_UI_BREAK_GLASS_USER", "local emergency account of the field UI (empty: none)", func(c *Config) *string { return &c.UI.BreakGlassUser }),
		settings.String("ui-break-glass-hash", "FLEETEDGE_GATEWAY_UI_BREAK_GLASS_HASH", "argon2id hash of the emergency account's password (gateway hash-password)", func(c *Config) *string { return &c.UI.BreakGlassHash }),
		settings.String("ui-tile-url", "FLEETEDGE_GATEWAY_UI_TILE_URL", "map tile URL template with {z} {x} {y} (empty: blank map, zones and vehicles only)", func(c *Config) *string { return &c.UI.TileURL }),
		settings.String("ui-tile-attribution", "FLEETEDGE_GATEWAY_UI_TILE_ATTRIBUTION", "attribution shown with the map tiles", func(c *Config) *string { return &c.UI.TileAttribution }),
		settings.Int("ui-low-battery-pct", "FLEETEDGE_GATEWAY_UI_LOW_BATTERY_PCT", "battery % under which a vehicle needs attention", func(c *Config) *int { return &c.UI.LowBatteryPct }),
		settings.Duration("ui-vibration-window", "FLEETEDGE_GATEWAY_UI_VIBRATION_WINDOW", "a vibration alarm this recent needs attention", func(c *Config) *Duration { return &c.UI.VibrationWindow }),
		settings.Duration("ui-session-idle", "FLEETEDGE_GATEWAY_UI_SESSION_IDLE", "a field UI session unused this long ends", func(c *Config) *Duration { return &c.UI.SessionIdle }),
		settings.Duration("ui-session-max-age", "FLEETEDGE_GATEWAY_UI_SESSION_MAX_AGE", "a field UI session ends this long after login", func(c *Config) *Duration { return &c.UI.SessionMaxAge }),
		settings.Bool("ui-secure-cookies", "FLEETEDGE_GATEWAY_UI_SECURE_COOKIES", "mark session cookies Secure on plain HTTP too (behind a TLS proxy)", func(c *Config) *bool { return &c.UI.SecureCookies }).RequireValue(),
		settings.Duration("ui-command-timeout", "FLEETEDGE_GATEWAY_UI_COMMAND_TIMEOUT", "how long a field UI command waits for the scooter's reply", func(c *Config) *Duration { return &c.UI.CommandTimeout }),
		settings.Duration("shutdown-timeout", "FLEETEDGE_GATEWAY_SHUTDOWN_TIMEOUT", "bound on graceful shutdown", func(c *Config) *Duration { return &c.ShutdownTimeout }),
	},
}

// Invocation is what the command line asked for.
type Invocation struct {
	Config Config
	// PrintConfig: print the effective configuration and exit.
	PrintConfig bool
}

// LoadConfig builds the configuration from, in increasing precedence:
// Default(), the JSON file named by --config or FLEETEDGE_GATEWAY_CONFIG,
// environment variables, flags. getenv is injected (main passes os.Getenv).
// Usage goes to out; --help returns flag.ErrHelp. The result is validated.
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

// SettingsTable renders every flag, environment variable and default as a
// Markdown table (for README.md).
func SettingsTable() string { return configTable.Markdown(Default()) }
