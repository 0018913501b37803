package uplink

import (
	"errors"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("uplink: invalid configuration")

// Cadence is the minimum interval between two forwarded values of each field
// group of one vehicle. Zero forwards every report carrying the group.
type Cadence struct {
	Position time.Duration // GPS fix
	Speed    time.Duration
	Signal   time.Duration
	Battery  time.Duration // percent and voltage
	Status   time.Duration // powered, paused, fallen, at station, error code
}

// DefaultCadence is MISSION.md's: GPS and speed every 5 s, signal every 15 s,
// battery every 20 s, status every 30 s.
func DefaultCadence() Cadence {
	return Cadence{
		Position: 5 * time.Second,
		Speed:    5 * time.Second,
		Signal:   15 * time.Second,
		Battery:  20 * time.Second,
		Status:   30 * time.Second,
	}
}

// Config configures an Uplink. Gateway and City are required; zero values of
// the rest take the defaults below.
type Config struct {
	Gateway link.GatewayID
	City    link.CityID
	Cadence Cadence
	// ReadBatch is the number of outbox records read and turned into messages at
	// once (default 2000).
	ReadBatch int
	// MaxMessageBytes caps one published message (default 512 KiB; keep it below
	// the stream's max message size, 1 MiB by default).
	MaxMessageBytes int
	// Window is the number of messages in flight, published but not yet
	// acknowledged (default 16).
	Window int
	// AckTimeout is how long a publish waits for JetStream's ack before it is
	// resent (default 10 s).
	AckTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after a failed publish (defaults
	// 250 ms and 15 s); each wait is drawn in [d/2, d) and d doubles per failure.
	RetryMin, RetryMax time.Duration
}

// Defaults.
const (
	DefaultReadBatch       = 2000
	DefaultMaxMessageBytes = 512 << 10
	DefaultWindow          = 16
	DefaultAckTimeout      = 10 * time.Second
	DefaultRetryMin        = 250 * time.Millisecond
	DefaultRetryMax        = 15 * time.Second
)

func (c Config) withDefaults() Config {
	if c.ReadBatch == 0 {
		c.ReadBatch = DefaultReadBatch
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	return c
}

// Validate reports every configuration error, wrapped in ErrConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if _, err := link.ParseGatewayID(string(c.Gateway)); err != nil {
		bad("gateway: %v", err)
	}
	if _, err := link.ParseCityID(string(c.City)); err != nil {
		bad("city: %v", err)
	}
	for _, g := range []struct {
		name string
		d    time.Duration
	}{
		{"position", c.Cadence.Position}, {"speed", c.Cadence.Speed}, {"signal", c.Cadence.Signal},
		{"battery", c.Cadence.Battery}, {"status", c.Cadence.Status},
	} {
		if g.d < 0 {
			bad("cadence %s %v is negative", g.name, g.d)
		}
	}
	if c.ReadBatch < 0 || c.ReadBatch > 100_000 {
		bad("read batch %d outside 1-100000", c.ReadBatch)
	}
	if c.MaxMessageBytes < 0 || (c.MaxMessageBytes > 0 && c.MaxMessageBytes < 1024) || c.MaxMessageBytes > 64<<20 {
		bad("max message bytes %d outside 1 KiB-64 MiB", c.MaxMessageBytes)
	}
	if c.Window < 0 || c.Window > 4096 {
		bad("window %d outside 1-4096", c.Window)
	}
	if c.AckTimeout < 0 || c.RetryMin < 0 || c.RetryMax < 0 {
		bad("ack timeout and retry bounds must not be negative")
	}
	if c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryMin {
		bad("retry max %v below retry min %v", c.RetryMax, c.RetryMin)
	}
	return errors.Join(errs...)
}
