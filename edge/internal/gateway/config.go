package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/cloudlink"
	"github.com/fleetedge/fleetedge/edge/internal/rules"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/obs"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid gateway configuration")

// Duration is a time.Duration written as a Go duration string ("90s", "20m")
// in config files.
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

// Config is the whole configuration of the gateway binary. Start from
// Default(): its values run a demo gateway with no file and no flag.
type Config struct {
	// City is the city this gateway serves (a-z 0-9 _ -); a vehicles file for
	// another city is refused.
	City string `json:"city"`
	// GatewayID names this gateway towards the cloud (a-z 0-9 _ -).
	GatewayID string `json:"gateway_id"`
	// DataDir holds gateway.db (outbox + local configuration, one bbolt file).
	DataDir string        `json:"data_dir"`
	Log     obs.LogConfig `json:"log"`

	MQTT MQTTConfig `json:"mqtt"`
	HTTP HTTPConfig `json:"http"`

	// ZonesFile is a GBFS v3 geofencing_zones.json; when set it is validated,
	// stored locally and applied; when empty the stored zones are used.
	ZonesFile string `json:"zones_file"`
	// VehiclesFile is a link.VehiclesDoc (ids, credential hashes, types,
	// normal speed limits); when empty the stored list is used.
	VehiclesFile string `json:"vehicles_file"`

	// LostAfter is the silence after which a vehicle is "lost".
	LostAfter Duration `json:"lost_after"`
	// SweepInterval is how often silent vehicles are looked for.
	SweepInterval Duration `json:"sweep_interval"`

	Outbox OutboxConfig  `json:"outbox"`
	Rules  RulesConfig   `json:"rules"`
	Cloud  CloudConfig   `json:"cloud"`
	UI     FieldUIConfig `json:"ui"`

	// ShutdownTimeout bounds the graceful shutdown (HTTP drain, outbox flush).
	ShutdownTimeout Duration `json:"shutdown_timeout"`
}

// MQTTConfig selects the broker's listeners; an empty address disables one.
type MQTTConfig struct {
	TCPAddr     string `json:"tcp_addr"`
	TLSAddr     string `json:"tls_addr"`
	TLSCertFile string `json:"tls_cert_file"`
	TLSKeyFile  string `json:"tls_key_file"`
	WSAddr      string `json:"ws_addr"`
}

// HTTPConfig is the HTTP listener: /healthz, /readyz, /metrics, /api/v1/….
type HTTPConfig struct {
	Addr         string   `json:"addr"`
	CheckTimeout Duration `json:"check_timeout"`
}

// FieldUIConfig is the field technicians' web UI under /ui/ (package fieldui).
type FieldUIConfig struct {
	// AccountsFile is a fieldui.AccountsDoc (usernames + argon2id hashes) to
	// validate, store and apply; empty: the stored accounts (pushed later by
	// the cloud under the same document name).
	AccountsFile string `json:"accounts_file"`
	// BreakGlassUser / BreakGlassHash: a local emergency account (argon2id PHC
	// hash from "gateway hash-password"); both empty: none.
	BreakGlassUser string `json:"break_glass_user"`
	BreakGlassHash string `json:"break_glass_hash"`
	// TileURL is a raster tile template ({z}/{x}/{y}, optional {s}); empty: a
	// blank map with zones and vehicles only.
	TileURL         string `json:"tile_url"`
	TileAttribution string `json:"tile_attribution"`
	// LowBatteryPct: under this a vehicle needs attention.
	LowBatteryPct int `json:"low_battery_pct"`
	// VibrationWindow: a vibration alarm this recent needs attention.
	VibrationWindow Duration `json:"vibration_window"`
	SessionIdle     Duration `json:"session_idle"`
	SessionMaxAge   Duration `json:"session_max_age"`
	// SecureCookies marks the session cookie Secure on plain HTTP too (a TLS
	// proxy in front); requests over TLS always get Secure cookies.
	SecureCookies bool `json:"secure_cookies"`
	// CommandTimeout bounds the wait for a scooter's reply to a UI command.
	CommandTimeout Duration `json:"command_timeout"`
}

// OutboxConfig bounds the store-and-forward outbox (see the outbox package's
// drop policy: oldest telemetry first, events never).
type OutboxConfig struct {
	// MaxBytes is the soft bound on stored bytes; 0 = unbounded.
	MaxBytes uint64 `json:"max_bytes"`
	// MaxRecords is the soft bound on stored records; 0 = unbounded.
	MaxRecords uint64 `json:"max_records"`
	// MaxEventBytes, if not 0, refuses new events (no PUBACK) beyond it.
	MaxEventBytes uint64 `json:"max_event_bytes"`
}

// CloudConfig links the gateway to the cloud's NATS. An empty NATSURL runs the
// gateway standalone: everything still works locally and the outbox keeps
// every record until a link is configured.
type CloudConfig struct {
	// NATSURL of the cloud (comma-separated for a cluster), e.g. nats://cloud:4222.
	NATSURL string `json:"nats_url"`
	// CAFile verifies the server; CertFile/KeyFile present a client certificate
	// (mTLS); CredsFile is a NATS credentials file. All optional.
	CAFile    string `json:"ca_file"`
	CertFile  string `json:"cert_file"`
	KeyFile   string `json:"key_file"`
	CredsFile string `json:"creds_file"`
	// NkeySeedFile is this gateway's nkey seed; the cloud's roster holds its
	// public key and grants it its own city's subjects only.
	NkeySeedFile string `json:"nkey_seed_file"`
	// Cadence downsamples telemetry for the cloud, per vehicle and field group
	// (0 = every report); alarms and events are never downsampled.
	Cadence CadenceConfig `json:"cadence"`
	// Window is the number of uplink messages published but not yet acknowledged.
	Window int `json:"window"`
	// AckTimeout is how long a publish waits for JetStream's ack before a resend.
	AckTimeout Duration `json:"ack_timeout"`
	// CommandWorkers bounds the cloud's commands handled at once (each waits
	// for its scooter's reply).
	CommandWorkers int `json:"command_workers"`
	// CommandWait bounds the wait for the outcome of a cloud command without
	// its own timeout; keep it equal to the cloud's downlink DefaultTimeout.
	CommandWait Duration `json:"command_wait"`
}

// CadenceConfig is the uplink's downsampling per field group.
type CadenceConfig struct {
	Position Duration `json:"position"`
	Speed    Duration `json:"speed"`
	Signal   Duration `json:"signal"`
	Battery  Duration `json:"battery"`
	Status   Duration `json:"status"`
}

// RulesConfig tunes the zone and parked-vehicle rules (see the rules package).
type RulesConfig struct {
	// DefaultLimitKmh is the normal limit of a vehicle without one of its own
	// or of its type (1–30).
	DefaultLimitKmh int `json:"default_limit_kmh"`
	// TypeLimitsKmh are normal limits per GBFS vehicle_type_id.
	TypeLimitsKmh map[string]int `json:"type_limits_kmh,omitempty"`
	// HysteresisMetres: a zone border must be this far behind the fix before a
	// change of zone is acted on (negative: off).
	HysteresisMetres float64 `json:"hysteresis_metres"`
	// HysteresisDwell: a new verdict must persist this long (0: off).
	HysteresisDwell Duration `json:"hysteresis_dwell"`
	// HysteresisSettle: a verdict that persisted this long is taken even
	// within HysteresisMetres of a border (0: never).
	HysteresisSettle Duration `json:"hysteresis_settle"`
	// Ramp is the no-ride ramp-down: limits at delays since entering.
	Ramp []RampStep `json:"ramp"`
	// SilentRamp: buzzer only on entry, not at each later ramp step.
	SilentRamp bool `json:"silent_ramp"`
	// ZoneAlarmBuzzer: sound 28 when entering an alarm_on_entry zone.
	ZoneAlarmBuzzer bool `json:"zone_alarm_buzzer"`
	// UseLBSFixes: evaluate cell-tower fixes too (coarse; off by default).
	UseLBSFixes bool `json:"use_lbs_fixes"`
	// SendInitialLimit: send 13 on the first ridden fix after a restart even
	// when the limit is the normal one.
	SendInitialLimit bool `json:"send_initial_limit"`
	// TheftBuzzer / TheftMotorLock: reactions to vibration while parked (28, 107).
	TheftBuzzer    bool `json:"theft_buzzer"`
	TheftMotorLock bool `json:"theft_motor_lock"`
	// TheftCooldown: least time between two theft alarms of one vehicle.
	TheftCooldown Duration `json:"theft_cooldown"`
}

// RampStep is one step of the no-ride ramp-down.
type RampStep struct {
	After    Duration `json:"after"`
	LimitKmh int      `json:"limit_kmh"`
}

// Default returns the zero-configuration settings: MQTT on :1883, HTTP on
// :8080, data in ./.data/edge, city "demo".
func Default() Config {
	return Config{
		City:          "demo",
		GatewayID:     "demo-gw-1",
		DataDir:       ".data/edge",
		Log:           obs.DefaultLogConfig(),
		MQTT:          MQTTConfig{TCPAddr: ":1883"},
		HTTP:          HTTPConfig{Addr: ":8080", CheckTimeout: Duration(2 * time.Second)},
		LostAfter:     Duration(20 * time.Minute),
		SweepInterval: Duration(30 * time.Second),
		Outbox:        OutboxConfig{MaxBytes: 1 << 30},
		Rules: RulesConfig{
			DefaultLimitKmh: 25, HysteresisMetres: 10,
			Ramp:        []RampStep{{After: 0, LimitKmh: 6}, {After: Duration(10 * time.Second), LimitKmh: 0}},
			TheftBuzzer: true, TheftMotorLock: true, TheftCooldown: Duration(time.Minute),
		},
		Cloud: CloudConfig{
			// MISSION.md's cadences: GPS and speed every 5 s, signal 15 s, battery 20 s, status 30 s.
			Cadence: CadenceConfig{Position: Duration(5 * time.Second), Speed: Duration(5 * time.Second),
				Signal: Duration(15 * time.Second), Battery: Duration(20 * time.Second), Status: Duration(30 * time.Second)},
			Window: 16, AckTimeout: Duration(10 * time.Second),
			CommandWorkers: cloudlink.DefaultWorkers, CommandWait: Duration(cloudlink.DefaultWait),
		},
		UI: FieldUIConfig{LowBatteryPct: 20, VibrationWindow: Duration(30 * time.Minute),
			SessionIdle: Duration(time.Hour), SessionMaxAge: Duration(12 * time.Hour), CommandTimeout: Duration(15 * time.Second)},
		ShutdownTimeout: Duration(15 * time.Second),
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if _, err := link.ParseCityID(c.City); err != nil {
		bad("city: %v", err)
	}
	if _, err := link.ParseGatewayID(c.GatewayID); err != nil {
		bad("gateway id: %v", err)
	}
	if c.DataDir == "" {
		bad("data_dir is empty")
	}
	if err := c.Log.Validate(); err != nil {
		bad("log: %v", err)
	}
	if c.MQTT.TCPAddr == "" && c.MQTT.TLSAddr == "" && c.MQTT.WSAddr == "" {
		bad("no MQTT listener (set mqtt tcp, tls or ws address)")
	}
	for name, a := range map[string]string{"mqtt.tcp_addr": c.MQTT.TCPAddr, "mqtt.tls_addr": c.MQTT.TLSAddr,
		"mqtt.ws_addr": c.MQTT.WSAddr, "http.addr": c.HTTP.Addr} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("%s %q: %v", name, a, err)
		}
	}
	if c.HTTP.Addr == "" {
		bad("http.addr is empty")
	}
	if (c.Cloud.CertFile == "") != (c.Cloud.KeyFile == "") {
		bad("cloud.cert_file and cloud.key_file go together")
	}
	if c.Cloud.Window < 1 || c.Cloud.Window > 1024 {
		bad("cloud.window %d outside 1-1024", c.Cloud.Window)
	}
	if c.Cloud.CommandWorkers < 1 || c.Cloud.CommandWorkers > 100_000 {
		bad("cloud.command_workers %d outside 1-100000", c.Cloud.CommandWorkers)
	}
	if c.Cloud.CommandWait.D() <= 0 {
		bad("cloud.command_wait must be positive")
	}
	if c.Cloud.AckTimeout.D() <= 0 {
		bad("cloud.ack_timeout must be positive")
	}
	for name, d := range map[string]Duration{"position": c.Cloud.Cadence.Position, "speed": c.Cloud.Cadence.Speed,
		"signal": c.Cloud.Cadence.Signal, "battery": c.Cloud.Cadence.Battery, "status": c.Cloud.Cadence.Status} {
		if d < 0 {
			bad("cloud.cadence.%s is negative", name)
		}
	}
	if c.MQTT.TLSAddr != "" && (c.MQTT.TLSCertFile == "" || c.MQTT.TLSKeyFile == "") {
		bad("mqtt.tls_addr needs tls_cert_file and tls_key_file")
	}
	if c.LostAfter.D() <= 0 || c.SweepInterval.D() <= 0 || c.ShutdownTimeout.D() <= 0 || c.HTTP.CheckTimeout.D() <= 0 {
		bad("lost_after, sweep_interval, shutdown_timeout and http.check_timeout must be positive")
	}
	if c.Rules.DefaultLimitKmh < 1 || c.Rules.DefaultLimitKmh > 30 {
		bad("rules.default_limit_kmh %d outside 1-30", c.Rules.DefaultLimitKmh)
	}
	if c.UI.LowBatteryPct < 0 || c.UI.LowBatteryPct > 100 {
		bad("ui.low_battery_pct %d outside 0-100", c.UI.LowBatteryPct)
	}
	if c.UI.VibrationWindow < 0 || c.UI.SessionIdle.D() <= 0 || c.UI.SessionMaxAge.D() <= 0 || c.UI.CommandTimeout.D() <= 0 {
		bad("ui.session_idle, ui.session_max_age and ui.command_timeout must be positive, ui.vibration_window not negative")
	}
	if (c.UI.BreakGlassUser == "") != (c.UI.BreakGlassHash == "") {
		bad("ui.break_glass_user and ui.break_glass_hash go together")
	}
	if len(c.Rules.Ramp) == 0 {
		bad("rules.ramp needs at least one step (an instant stop throws riders)")
	}
	return errors.Join(errs...)
}

// rulesConfig converts to the rules engine's configuration (which validates
// the ramp and limits in detail).
func (c RulesConfig) rulesConfig() rules.Config {
	rc := rules.Config{
		DefaultLimitKmh: c.DefaultLimitKmh, TypeLimitsKmh: c.TypeLimitsKmh,
		Hysteresis: rules.Hysteresis{Metres: c.HysteresisMetres, Dwell: c.HysteresisDwell.D(), Settle: c.HysteresisSettle.D()},
		SilentRamp: c.SilentRamp, ZoneAlarmBuzzer: c.ZoneAlarmBuzzer, UseLBSFixes: c.UseLBSFixes,
		SendInitialLimit: c.SendInitialLimit,
		Theft:            rules.Theft{NoBuzzer: !c.TheftBuzzer, NoMotorLock: !c.TheftMotorLock, Cooldown: c.TheftCooldown.D()},
		Ramp:             make([]rules.RampStep, 0, len(c.Ramp)),
	}
	if rc.Hysteresis.Metres == 0 {
		rc.Hysteresis.Metres = -1 // 0 in the gateway config means "off", not "the rules default"
	}
	for _, s := range c.Ramp {
		rc.Ramp = append(rc.Ramp, rules.RampStep{After: s.After.D(), LimitKmh: s.LimitKmh})
	}
	return rc
}

// LogValue summarises the configuration for the start-up log. The gateway
// config holds no secret (TLS keys are paths, vehicle credentials are hashes
// in a separate file); the break-glass hash is not logged either (a hash
// still helps offline guessing), only whether one is set.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("city", c.City), slog.String("gateway_id", c.GatewayID), slog.String("data_dir", c.DataDir),
		slog.String("mqtt_tcp", c.MQTT.TCPAddr), slog.String("mqtt_tls", c.MQTT.TLSAddr), slog.String("mqtt_ws", c.MQTT.WSAddr),
		slog.String("http", c.HTTP.Addr), slog.String("zones_file", c.ZonesFile), slog.String("vehicles_file", c.VehiclesFile),
		slog.Duration("lost_after", c.LostAfter.D()), slog.Uint64("outbox_max_bytes", c.Outbox.MaxBytes),
		slog.String("ui_accounts_file", c.UI.AccountsFile), slog.Bool("ui_break_glass", c.UI.BreakGlassUser != ""),
		slog.String("ui_tile_url", c.UI.TileURL),
	)
}
