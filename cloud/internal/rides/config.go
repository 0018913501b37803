package rides

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Commander sends one command to a vehicle through its city's gateway and returns the
// gateway's result (downlink.Downlink implements it).
type Commander interface {
	SendCommand(ctx context.Context, city link.CityID, req link.CommandRequest) (link.CommandResult, error)
}

// FixSource reads a vehicle's GPS fixes over a window (chstore.Store implements it).
type FixSource interface {
	Route(ctx context.Context, city, vehicle string, w chstore.Window) ([]chstore.RoutePoint, error)
}

// Defaults of Config.
const (
	DefaultMinStartBatteryPct = 15
	DefaultUnlockTimeout      = 8 * time.Second
	DefaultCommandTimeout     = 10 * time.Second
	DefaultOnlineWindow       = 3 * time.Minute
	DefaultNearbyRefresh      = time.Second
	DefaultStaleStartingAfter = 2 * time.Minute
	DefaultFixSettle          = 2 * time.Second
	DefaultRangeKm            = 35
	// MaxRadiusM bounds a nearby query's radius (metres).
	MaxRadiusM = 5000
)

// Config wires a Service. Pool and Live are required; the getters may return nil while the
// dependency is not running (no commands: ErrUnavailable; no fixes: the route is the start
// and end positions only).
type Config struct {
	Pool      *pgxpool.Pool
	Live      *livestate.Fleet
	Commander func() Commander
	Fixes     func() FixSource

	// MinStartBatteryPct: a ride starts only at this battery level or above (0-100).
	MinStartBatteryPct int
	// UnlockTimeout bounds the scooter's answer to power-on (sent as the command's timeout_ms).
	UnlockTimeout time.Duration
	// CommandTimeout bounds pause, resume and power-off.
	CommandTimeout time.Duration
	// OnlineWindow: a vehicle without a connectivity event counts as online when seen this
	// recently.
	OnlineWindow time.Duration
	// NearbyRefresh is the rebuild period of the nearby index.
	NearbyRefresh time.Duration
	// StaleStartingAfter: a reservation still 'starting' this long after its creation is
	// cancelled by the sweeper (above UnlockTimeout plus the downlink's margin).
	StaleStartingAfter time.Duration
	// FixSettle bounds the wait, when a ride ends, for ClickHouse to hold every telemetry
	// record the cloud has seen from the vehicle up to the end (the ingest writes a moment
	// after it folds records into the live state). Default 2 s; negative: no wait.
	FixSettle time.Duration
	// ModelRangeKm is each vehicle model's full-charge range; DefaultRangeKm for others.
	ModelRangeKm   map[string]float64
	DefaultRangeKm float64
	// VehicleType is the GBFS vehicle_type_id used to evaluate zone rules ("": rules that
	// list no vehicle type, as in the demo city).
	VehicleType string

	// Registerer receives the service's metrics (nil: not registered).
	Registerer prometheus.Registerer

	Log *slog.Logger
	Now func() time.Time
}

func (c *Config) defaults() error {
	if c.Pool == nil || c.Live == nil {
		return errors.New("rides: config needs Pool and Live")
	}
	if c.Commander == nil {
		c.Commander = func() Commander { return nil }
	}
	if c.Fixes == nil {
		c.Fixes = func() FixSource { return nil }
	}
	if c.MinStartBatteryPct == 0 {
		c.MinStartBatteryPct = DefaultMinStartBatteryPct
	}
	if c.MinStartBatteryPct < 0 || c.MinStartBatteryPct > 100 {
		return fmt.Errorf("rides: min start battery %d outside 0-100", c.MinStartBatteryPct)
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.UnlockTimeout, DefaultUnlockTimeout)
	set(&c.CommandTimeout, DefaultCommandTimeout)
	set(&c.OnlineWindow, DefaultOnlineWindow)
	set(&c.NearbyRefresh, DefaultNearbyRefresh)
	set(&c.StaleStartingAfter, DefaultStaleStartingAfter)
	set(&c.FixSettle, DefaultFixSettle)
	for _, d := range []time.Duration{c.UnlockTimeout, c.CommandTimeout, c.OnlineWindow, c.NearbyRefresh, c.StaleStartingAfter} {
		if d < 0 || d > 10*time.Minute {
			return fmt.Errorf("rides: duration %v outside 0-10m", d)
		}
	}
	if c.DefaultRangeKm == 0 {
		c.DefaultRangeKm = DefaultRangeKm
	}
	if c.DefaultRangeKm < 0 {
		return errors.New("rides: negative default range")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}
