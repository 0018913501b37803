package gateway

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

// setting is one knob reachable from a flag and an environment variable. The
// table below is the single list of them; --help and SettingsTable come from it.
type setting struct {
	flag  string
	env   string
	usage string
	set   func(c *Config, v string) error
	get   func(c *Config) string
}

func strSetting(name, env, usage string, p func(*Config) *string) setting {
	return setting{name, env, usage,
		func(c *Config, v string) error { *p(c) = v; return nil },
		func(c *Config) string { return *p(c) }}
}

func uintSetting(name, env, usage string, p func(*Config) *uint64) setting {
	return setting{name, env, usage,
		func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want a non-negative integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.FormatUint(*p(c), 10) }}
}

func intSetting(name, env, usage string, p func(*Config) *int) setting {
	return setting{name, env, usage,
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.Itoa(*p(c)) }}
}

func floatSetting(name, env, usage string, p func(*Config) *float64) setting {
	return setting{name, env, usage,
		func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			*p(c) = f
			return nil
		},
		func(c *Config) string { return strconv.FormatFloat(*p(c), 'g', -1, 64) }}
}

func durSetting(name, env, usage string, p func(*Config) *Duration) setting {
	return setting{name, env, usage,
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("want a duration like 30s or 20m, got %q", v)
			}
			*p(c) = Duration(d)
			return nil
		},
		func(c *Config) string { return p(c).String() }}
}

func boolSetting(name, env, usage string, p func(*Config) *bool) setting {
	return setting{name, env, usage,
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*p(c) = b
			return nil
		},
		func(c *Config) string { return strconv.FormatBool(*p(c)) }}
}

var settings = []setting{
	strSetting("city", "FLEETEDGE_GATEWAY_CITY", "city id served by this gateway (a-z 0-9 _ -)", func(c *Config) *string { return &c.City }),
	strSetting("gateway-id", "FLEETEDGE_GATEWAY_ID", "gateway id towards the cloud (a-z 0-9 _ -)", func(c *Config) *string { return &c.GatewayID }),
	strSetting("data-dir", "FLEETEDGE_GATEWAY_DATA_DIR", "directory of gateway.db (outbox + local config)", func(c *Config) *string { return &c.DataDir }),
	strSetting("log-level", "FLEETEDGE_GATEWAY_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
	strSetting("log-format", "FLEETEDGE_GATEWAY_LOG_FORMAT", "text or json", func(c *Config) *string { return (*string)(&c.Log.Format) }),
	strSetting("mqtt-addr", "FLEETEDGE_GATEWAY_MQTT_ADDR", "MQTT TCP listen address (empty disables)", func(c *Config) *string { return &c.MQTT.TCPAddr }),
	strSetting("mqtt-tls-addr", "FLEETEDGE_GATEWAY_MQTT_TLS_ADDR", "MQTT over TLS listen address (empty disables)", func(c *Config) *string { return &c.MQTT.TLSAddr }),
	strSetting("mqtt-tls-cert", "FLEETEDGE_GATEWAY_MQTT_TLS_CERT", "PEM certificate (chain) file for the TLS listener", func(c *Config) *string { return &c.MQTT.TLSCertFile }),
	strSetting("mqtt-tls-key", "FLEETEDGE_GATEWAY_MQTT_TLS_KEY", "PEM private key file for the TLS listener", func(c *Config) *string { return &c.MQTT.TLSKeyFile }),
	strSetting("mqtt-ws-addr", "FLEETEDGE_GATEWAY_MQTT_WS_ADDR", "MQTT over WebSocket listen address (empty disables)", func(c *Config) *string { return &c.MQTT.WSAddr }),
	strSetting("http-addr", "FLEETEDGE_GATEWAY_HTTP_ADDR", "HTTP listen address (/healthz /readyz /metrics /api/v1)", func(c *Config) *string { return &c.HTTP.Addr }),
	durSetting("check-timeout", "FLEETEDGE_GATEWAY_CHECK_TIMEOUT", "timeout of each readiness check", func(c *Config) *Duration { return &c.HTTP.CheckTimeout }),
	strSetting("zones", "FLEETEDGE_GATEWAY_ZONES", "GBFS v3 geofencing_zones.json to validate, store and apply (empty: use the stored zones)", func(c *Config) *string { return &c.ZonesFile }),
	strSetting("vehicles", "FLEETEDGE_GATEWAY_VEHICLES", "vehicles JSON (ids, credential hashes, types, normal limits) to store and apply (empty: use the stored list)", func(c *Config) *string { return &c.VehiclesFile }),
	durSetting("lost-after", "FLEETEDGE_GATEWAY_LOST_AFTER", "silence after which a vehicle is lost", func(c *Config) *Duration { return &c.LostAfter }),
	durSetting("sweep-interval", "FLEETEDGE_GATEWAY_SWEEP_INTERVAL", "how often silent vehicles are looked for", func(c *Config) *Duration { return &c.SweepInterval }),
	uintSetting("outbox-max-bytes", "FLEETEDGE_GATEWAY_OUTBOX_MAX_BYTES", "outbox soft bound in bytes; oldest telemetry dropped beyond (0 = unbounded)", func(c *Config) *uint64 { return &c.Outbox.MaxBytes }),
	uintSetting("outbox-max-records", "FLEETEDGE_GATEWAY_OUTBOX_MAX_RECORDS", "outbox soft bound in records (0 = unbounded)", func(c *Config) *uint64 { return &c.Outbox.MaxRecords }),
	uintSetting("outbox-max-event-bytes", "FLEETEDGE_GATEWAY_OUTBOX_MAX_EVENT_BYTES", "hard cap on stored events; beyond it reports are not acknowledged (0 = disk is the limit)", func(c *Config) *uint64 { return &c.Outbox.MaxEventBytes }),
	intSetting("default-limit-kmh", "FLEETEDGE_GATEWAY_DEFAULT_LIMIT_KMH", "normal speed limit of vehicles without their own (1-30)", func(c *Config) *int { return &c.Rules.DefaultLimitKmh }),
	floatSetting("hysteresis-metres", "FLEETEDGE_GATEWAY_HYSTERESIS_METRES", "a zone border must be this far behind a fix before the change is acted on (0 = off)", func(c *Config) *float64 { return &c.Rules.HysteresisMetres }),
	durSetting("hysteresis-dwell", "FLEETEDGE_GATEWAY_HYSTERESIS_DWELL", "a new zone verdict must persist this long (0 = off)", func(c *Config) *Duration { return &c.Rules.HysteresisDwell }),
	durSetting("hysteresis-settle", "FLEETEDGE_GATEWAY_HYSTERESIS_SETTLE", "take a verdict that persisted this long even near a border (0 = never)", func(c *Config) *Duration { return &c.Rules.HysteresisSettle }),
	strSetting("cloud-nats-url", "FLEETEDGE_GATEWAY_CLOUD_NATS_URL", "the cloud's NATS URL for the uplink (empty: standalone)", func(c *Config) *string { return &c.Cloud.NATSURL }),
	strSetting("cloud-nats-ca", "FLEETEDGE_GATEWAY_CLOUD_NATS_CA", "CA file to verify the cloud's NATS", func(c *Config) *string { return &c.Cloud.CAFile }),
	strSetting("cloud-nats-cert", "FLEETEDGE_GATEWAY_CLOUD_NATS_CERT", "client certificate for the cloud's NATS (mTLS)", func(c *Config) *string { return &c.Cloud.CertFile }),
	strSetting("cloud-nats-key", "FLEETEDGE_GATEWAY_CLOUD_NATS_KEY", "client key for the cloud's NATS (mTLS)", func(c *Config) *string { return &c.Cloud.KeyFile }),
	strSetting("cloud-nats-nkey-seed", "FLEETEDGE_GATEWAY_CLOUD_NATS_NKEY_SEED", "this gateway's nkey seed file for the cloud's NATS", func(c *Config) *string { return &c.Cloud.NkeySeedFile }),
	strSetting("cloud-nats-creds", "FLEETEDGE_GATEWAY_CLOUD_NATS_CREDS", "NATS credentials file for the cloud link", func(c *Config) *string { return &c.Cloud.CredsFile }),
	durSetting("cloud-command-wait", "FLEETEDGE_GATEWAY_CLOUD_COMMAND_WAIT", "wait for the outcome of a cloud command without its own timeout", func(c *Config) *Duration { return &c.Cloud.CommandWait }),
	strSetting("ui-accounts", "FLEETEDGE_GATEWAY_UI_ACCOUNTS", "technicians' accounts JSON (usernames + argon2id hashes) to store and apply (empty: use the stored accounts)", func(c *Config) *string { return &c.UI.AccountsFile }),
	strSetting("ui-break-glass-user", "FLEETEDGE_GATEWAY_UI_BREAK_GLASS_USER", "local emergency account of the field UI (empty: none)", func(c *Config) *string { return &c.UI.BreakGlassUser }),
	strSetting("ui-break-glass-hash", "FLEETEDGE_GATEWAY_UI_BREAK_GLASS_HASH", "argon2id hash of the emergency account's password (gateway hash-password)", func(c *Config) *string { return &c.UI.BreakGlassHash }),
	strSetting("ui-tile-url", "FLEETEDGE_GATEWAY_UI_TILE_URL", "map tile URL template with {z} {x} {y} (empty: blank map, zones and vehicles only)", func(c *Config) *string { return &c.UI.TileURL }),
	strSetting("ui-tile-attribution", "FLEETEDGE_GATEWAY_UI_TILE_ATTRIBUTION", "attribution shown with the map tiles", func(c *Config) *string { return &c.UI.TileAttribution }),
	intSetting("ui-low-battery-pct", "FLEETEDGE_GATEWAY_UI_LOW_BATTERY_PCT", "battery % under which a vehicle needs attention", func(c *Config) *int { return &c.UI.LowBatteryPct }),
	durSetting("ui-vibration-window", "FLEETEDGE_GATEWAY_UI_VIBRATION_WINDOW", "a vibration alarm this recent needs attention", func(c *Config) *Duration { return &c.UI.VibrationWindow }),
	durSetting("ui-session-idle", "FLEETEDGE_GATEWAY_UI_SESSION_IDLE", "a field UI session unused this long ends", func(c *Config) *Duration { return &c.UI.SessionIdle }),
	durSetting("ui-session-max-age", "FLEETEDGE_GATEWAY_UI_SESSION_MAX_AGE", "a field UI session ends this long after login", func(c *Config) *Duration { return &c.UI.SessionMaxAge }),
	boolSetting("ui-secure-cookies", "FLEETEDGE_GATEWAY_UI_SECURE_COOKIES", "mark session cookies Secure on plain HTTP too (behind a TLS proxy)", func(c *Config) *bool { return &c.UI.SecureCookies }),
	durSetting("ui-command-timeout", "FLEETEDGE_GATEWAY_UI_COMMAND_TIMEOUT", "how long a field UI command waits for the scooter's reply", func(c *Config) *Duration { return &c.UI.CommandTimeout }),
	durSetting("shutdown-timeout", "FLEETEDGE_GATEWAY_SHUTDOWN_TIMEOUT", "bound on graceful shutdown", func(c *Config) *Duration { return &c.ShutdownTimeout }),
}

// ConfigEnv names the environment variable holding the config file path (flag --config).
const ConfigEnv = "FLEETEDGE_GATEWAY_CONFIG"

// Invocation is what the command line asked for.
type Invocation struct {
	Config Config
	// PrintConfig: print the effective configuration and exit.
	PrintConfig bool
}

type rawFlag struct{ val string }

func (f *rawFlag) String() string     { return f.val }
func (f *rawFlag) Set(v string) error { f.val = v; return nil }

// LoadConfig builds the configuration from, in increasing precedence:
// Default(), the JSON file named by --config or FLEETEDGE_GATEWAY_CONFIG,
// environment variables, flags. getenv is injected (main passes os.Getenv).
// Usage goes to out; --help returns flag.ErrHelp. The result is validated.
func LoadConfig(args []string, getenv func(string) string, out io.Writer) (Invocation, error) {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	def := Default()
	raw := make(map[string]*rawFlag, len(settings))
	for _, s := range settings {
		v := &rawFlag{val: s.get(&def)}
		raw[s.flag] = v
		fs.Var(v, s.flag, s.usage+" (env "+s.env+")")
	}
	configPath := fs.String("config", "", "JSON config file (env "+ConfigEnv+")")
	printConfig := fs.Bool("print-config", false, "print the effective configuration and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: gateway [flags]\n\nPrecedence: defaults < config file < environment < flags.\n\n")
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

// loadFile overlays a JSON file on cfg. Unknown keys are errors (a typo must
// not silently leave a default in place).
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

// SettingsTable renders every flag, environment variable and default as a
// Markdown table (for README.md).
func SettingsTable() string {
	def := Default()
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| `--config` | `%s` | | JSON config file |\n", ConfigEnv)
	for _, s := range settings {
		fmt.Fprintf(&b, "| `--%s` | `%s` | `%s` | %s |\n", s.flag, s.env, s.get(&def), s.usage)
	}
	b.WriteString("| `--print-config` | | | print the effective configuration and exit |\n")
	return b.String()
}
