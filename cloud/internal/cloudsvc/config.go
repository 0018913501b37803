package cloudsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/shared/obs"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid cloud configuration")

// Role selects which components a cloud process runs.
type Role string

const (
	// RoleAll runs everything in one process (one machine, `make run`).
	RoleAll Role = "all"
	// RoleAPI serves the admin and rider APIs; stateless, scaled behind a load balancer.
	RoleAPI Role = "api"
	// RoleIngest owns JetStream (embedded server or the stream on an external cluster) and
	// consumes FLEET_UP into ClickHouse and PostgreSQL.
	RoleIngest Role = "ingest"
)

// HasAPI reports whether the role serves the APIs.
func (r Role) HasAPI() bool { return r == RoleAll || r == RoleAPI }

// HasIngest reports whether the role runs NATS/JetStream and the ingest.
func (r Role) HasIngest() bool { return r == RoleAll || r == RoleIngest }

// usesNATS reports whether the process connects to NATS: roles with the ingest, and role api
// when an external NATS URL is set (commands and configuration to the gateways).
func (c Config) usesNATS() bool {
	return c.Role.HasIngest() || (c.Role == RoleAPI && c.NATS.URL != "")
}

// Duration is a time.Duration written as a Go duration string ("90s", "5m") in config files.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string ("5m").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Secret is a DSN or URL that may carry a password. It prints, logs and marshals with the
// password replaced by "xxxxx"; Reveal gives the real value to the one place that connects.
type Secret string

// Reveal returns the unmasked value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string { return redact(string(s)) }

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON masks the secret (for --print-config).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the plain value.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// redact masks passwords in URL-form DSNs (scheme://user:pw@host, comma-separated lists,
// ?password=), NATS tokens (nats://token@host) and key=value DSNs (password=...).
func redact(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		return kvPassword.ReplaceAllString(s, "${1}xxxxx")
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactURL(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return "xxxxx" // unparsable: reveal nothing
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else if u.Scheme == "nats" || u.Scheme == "tls" {
			u.User = url.User("xxxxx") // a bare NATS token
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Config is the whole configuration of the cloud binary. Zero values are not meaningful:
// start from Default().
type Config struct {
	Role    Role          `json:"role"`
	DataDir string        `json:"data_dir"`
	Log     obs.LogConfig `json:"log"`

	HTTP       HTTPConfig       `json:"http"`
	Postgres   PostgresConfig   `json:"postgres"`
	ClickHouse ClickHouseConfig `json:"clickhouse"`
	NATS       NATSConfig       `json:"nats"`
	FieldCrypt FieldCryptConfig `json:"fieldcrypt"`
	Riders     RidersConfig     `json:"riders"`
	Admin      AdminConfig      `json:"admin"`
	Payments   PaymentsConfig   `json:"payments"`

	// StartupTimeout bounds connecting to and migrating the databases and starting NATS,
	// retrying while a dependency is still coming up.
	StartupTimeout Duration `json:"startup_timeout"`
	// ShutdownTimeout bounds the graceful shutdown (draining HTTP, NATS, closing pools).
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// DrainDelay is how long /readyz reports "stopping" before the listeners close, so a load
	// balancer notices first (Kubernetes: a few seconds; one machine: 0).
	DrainDelay Duration `json:"drain_delay"`
}

// HTTPConfig is the HTTP listener: /healthz, /readyz, /metrics, and the APIs in api roles.
type HTTPConfig struct {
	Addr string `json:"addr"`
	// CheckTimeout bounds each readiness check.
	CheckTimeout Duration `json:"check_timeout"`
}

// PostgresConfig: DSN is the application role's (fleetedge_app); MigratorDSN the migration
// owner's (fleetedge_migrator), used only at start when Migrate is on.
type PostgresConfig struct {
	DSN         Secret `json:"dsn"`
	MigratorDSN Secret `json:"migrator_dsn"`
	Migrate     bool   `json:"migrate"`
}

// ClickHouseConfig: native-protocol DSN (clickhouse://user:pw@host:port/db).
type ClickHouseConfig struct {
	DSN     Secret `json:"dsn"`
	Migrate bool   `json:"migrate"`
}

// NATSConfig selects embedded or external NATS (see natsbus).
type NATSConfig struct {
	// URL of an external NATS; empty runs nats-server embedded (roles ingest and all). Role
	// api connects to it when set, to send commands to gateways and publish their
	// configuration (ride unlocks, fleet commands, zone/vehicle/technician pushes); without it
	// those operations answer 503 and configuration changes wait in PostgreSQL.
	URL Secret `json:"url"`
	// CAFile, CertFile, KeyFile: TLS towards an external NATS.
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// NkeySeedFile authenticates the cloud to an external NATS (its service nkey seed).
	NkeySeedFile string `json:"nkey_seed_file"`

	// Embedded server.
	Host       string `json:"host"`
	Port       int    `json:"port"`
	StoreDir   string `json:"store_dir"` // default <data_dir>/nats
	ServerName string `json:"server_name"`
	MaxStore   int64  `json:"max_store"`
	// FsyncInterval 0 = fsync every write (default).
	FsyncInterval Duration `json:"fsync_interval"`
	TLSCertFile   string   `json:"tls_cert_file"`
	TLSKeyFile    string   `json:"tls_key_file"`
	TLSClientCA   string   `json:"tls_client_ca_file"`
	// RosterFile lists the gateways (id, city, public nkey) and services allowed on the
	// embedded listener (gatewayauth); required unless Host is a loopback address.
	RosterFile string `json:"roster_file"`
	// GatewayReplyTTL bounds a gateway's answer to a command request (0 = 11 min).
	GatewayReplyTTL Duration `json:"gateway_reply_ttl"`

	Stream StreamConfig `json:"stream"`
}

// StreamConfig holds the FLEET_UP limits (see natsbus.StreamConfig).
type StreamConfig struct {
	DuplicateWindow Duration `json:"duplicate_window"`
	MaxAge          Duration `json:"max_age"`
	MaxBytes        int64    `json:"max_bytes"`
	MaxMsgSize      int32    `json:"max_msg_size"`
	Replicas        int      `json:"replicas"`
}

// Local development DSNs: the roles, passwords and ports deploy/local/postgres.sh and
// clickhouse.sh create. They are for one machine only; production passes its own.
const (
	devPostgresDSN   = "postgres://fleetedge_app:fleetedge-app-dev@127.0.0.1:55432/fleetedge?sslmode=disable"
	devMigratorDSN   = "postgres://fleetedge_migrator:fleetedge-migrator-dev@127.0.0.1:55432/fleetedge?sslmode=disable"
	devClickHouseDSN = "clickhouse://127.0.0.1:59000/fleetedge"
)

// Default returns a configuration that runs everything on one machine against the local
// development servers of deploy/local.
func Default() Config {
	st := natsbus.DefaultStreamConfig()
	return Config{
		Role:    RoleAll,
		DataDir: ".data",
		Log:     obs.DefaultLogConfig(),
		HTTP:    HTTPConfig{Addr: "127.0.0.1:8080", CheckTimeout: Duration(2 * time.Second)},
		Postgres: PostgresConfig{
			DSN: devPostgresDSN, MigratorDSN: devMigratorDSN, Migrate: true,
		},
		ClickHouse: ClickHouseConfig{DSN: devClickHouseDSN, Migrate: true},
		NATS: NATSConfig{
			Host:       "127.0.0.1",
			Port:       4222,
			ServerName: "fleetedge-cloud",
			Stream: StreamConfig{
				DuplicateWindow: Duration(st.DuplicateWindow),
				MaxAge:          Duration(st.MaxAge),
				MaxBytes:        st.MaxBytes,
				MaxMsgSize:      st.MaxMsgSize,
				Replicas:        st.Replicas,
			},
		},
		Riders:          defaultRiders(),
		StartupTimeout:  Duration(60 * time.Second),
		ShutdownTimeout: Duration(20 * time.Second),
	}
}

// Bus converts the NATS part to natsbus's configuration.
func (c Config) Bus() natsbus.Config {
	storeDir := c.NATS.StoreDir
	if storeDir == "" {
		storeDir = filepath.Join(c.DataDir, "nats")
	}
	timeout := c.StartupTimeout.D()
	return natsbus.Config{
		URL:            c.NATS.URL.Reveal(),
		ClientTLS:      natsbus.ClientTLS{CAFile: c.NATS.CAFile, CertFile: c.NATS.CertFile, KeyFile: c.NATS.KeyFile},
		NkeySeedFile:   c.NATS.NkeySeedFile,
		ConnectTimeout: timeout,
		Embedded: natsbus.EmbeddedConfig{
			Host:          c.NATS.Host,
			Port:          c.NATS.Port,
			StoreDir:      storeDir,
			ServerName:    c.NATS.ServerName,
			MaxStore:      c.NATS.MaxStore,
			FsyncInterval: c.NATS.FsyncInterval.D(),
			TLS: natsbus.ServerTLS{
				CertFile: c.NATS.TLSCertFile, KeyFile: c.NATS.TLSKeyFile, ClientCAFile: c.NATS.TLSClientCA,
			},
			Auth: natsbus.AuthConfig{RosterFile: c.NATS.RosterFile, ReplyTTL: c.NATS.GatewayReplyTTL.D()},
		},
		Stream: natsbus.StreamConfig{
			DuplicateWindow: c.NATS.Stream.DuplicateWindow.D(),
			MaxAge:          c.NATS.Stream.MaxAge.D(),
			MaxBytes:        c.NATS.Stream.MaxBytes,
			MaxMsgSize:      c.NATS.Stream.MaxMsgSize,
			Replicas:        c.NATS.Stream.Replicas,
		},
	}
}

// Validate returns every problem at once, each naming its setting, wrapped in ErrConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, setting, fmt.Sprintf(format, args...)))
	}
	switch c.Role {
	case RoleAll, RoleAPI, RoleIngest:
	default:
		bad("role", "%q is not one of all, api, ingest", c.Role)
	}
	if err := c.Log.Validate(); err != nil {
		bad("log", "%v", err)
	}
	c.validateRiders(bad)
	c.validateAdmin(bad)
	c.validatePayments(bad)
	if c.DataDir == "" {
		bad("data_dir", "empty")
	}
	if err := checkAddr(c.HTTP.Addr); err != nil {
		bad("http.addr", "%v", err)
	}
	if c.HTTP.CheckTimeout <= 0 {
		bad("http.check_timeout", "%v must be > 0", c.HTTP.CheckTimeout)
	}
	if c.Postgres.DSN == "" {
		bad("postgres.dsn", "empty")
	}
	if c.Postgres.Migrate && c.Postgres.MigratorDSN == "" {
		bad("postgres.migrator_dsn", "empty while postgres.migrate is on")
	}
	if c.ClickHouse.DSN == "" {
		bad("clickhouse.dsn", "empty")
	}
	if c.StartupTimeout <= 0 {
		bad("startup_timeout", "%v must be > 0", c.StartupTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", "%v must be > 0", c.ShutdownTimeout)
	}
	if c.DrainDelay < 0 || (c.ShutdownTimeout > 0 && c.DrainDelay >= c.ShutdownTimeout) {
		bad("drain_delay", "%v must be >= 0 and below shutdown_timeout %v", c.DrainDelay, c.ShutdownTimeout)
	}
	if c.usesNATS() {
		if err := c.Bus().Validate(); err != nil {
			bad("nats", "%v", err)
		}
	}
	return errors.Join(errs...)
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("%q: bad host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port must be 0..65535", addr)
	}
	return nil
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func validHostname(h string) bool { return len(h) <= 253 && hostnameRE.MatchString(h) }

// LogValue logs the configuration with secrets masked (Secret fields mask themselves): a
// nested object in JSON logs, one quoted JSON string in text logs.
func (c Config) LogValue() slog.Value {
	b, err := json.Marshal(c)
	if err != nil {
		return slog.StringValue("unprintable: " + err.Error())
	}
	return slog.AnyValue(json.RawMessage(b))
}
