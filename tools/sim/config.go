package sim

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/fleetedge/fleetedge/tools/citymap"
)

// Fault is a kind of misbehaviour the simulator can inject.
type Fault int

// Faults. Probabilities for each live in Faults; Fleet.Inject arms one for the
// next opportunity of a single scooter.
const (
	// FaultDisconnect drops the TCP connection abruptly (no DISCONNECT); the
	// scooter reconnects after Config.ReconnectDelay.
	FaultDisconnect Fault = iota + 1
	// FaultDuplicate publishes a report twice (the next GPS fix).
	FaultDuplicate
	// FaultGarbage publishes an undecodable payload on "bike".
	FaultGarbage
	// FaultSpoof publishes a GPS fix carrying another vehicle's "i".
	FaultSpoof
	// FaultLateAck sends the next reply after Faults.LateAckDelay.
	FaultLateAck
	// FaultMissingAck never sends the next reply.
	FaultMissingAck
	// FaultFirmwareFail answers the next firmware package (67) with 68 s=1.
	FaultFirmwareFail
)

var faultNames = map[Fault]string{
	FaultDisconnect: "disconnect", FaultDuplicate: "duplicate", FaultGarbage: "garbage",
	FaultSpoof: "spoof", FaultLateAck: "late-ack", FaultMissingAck: "missing-ack",
	FaultFirmwareFail: "firmware-fail",
}

func (f Fault) String() string {
	if s, ok := faultNames[f]; ok {
		return s
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// ParseFault maps a fault's name ("late-ack") to the Fault.
func ParseFault(s string) (Fault, error) {
	for f, n := range faultNames {
		if n == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown fault %q", ErrConfig, s)
}

// Faults are per-event probabilities in [0, 1].
type Faults struct {
	Disconnect   float64 // per GPS fix
	Duplicate    float64 // per GPS fix or heartbeat
	Garbage      float64 // per GPS fix (in addition to the fix)
	Spoof        float64 // per GPS fix (in addition to the fix)
	LateAck      float64 // per reply
	MissingAck   float64 // per reply
	FirmwareFail float64 // per firmware package
	// LateAckDelay is how late a late reply is (default 3 s).
	LateAckDelay time.Duration
}

func (f Faults) rate(k Fault) float64 {
	switch k {
	case FaultDisconnect:
		return f.Disconnect
	case FaultDuplicate:
		return f.Duplicate
	case FaultGarbage:
		return f.Garbage
	case FaultSpoof:
		return f.Spoof
	case FaultLateAck:
		return f.LateAck
	case FaultMissingAck:
		return f.MissingAck
	case FaultFirmwareFail:
		return f.FirmwareFail
	}
	return 0
}

func (f Faults) validate() error {
	for k := range faultNames {
		if r := f.rate(k); !(r >= 0 && r <= 1) {
			return fmt.Errorf("%w: fault %s rate %v outside 0-1", ErrConfig, k, r)
		}
	}
	if f.LateAckDelay < 0 {
		return fmt.Errorf("%w: negative late-ack delay", ErrConfig)
	}
	return nil
}

// ZoneProbe classifies a reported position (decimal degrees) into a zone key,
// e.g. the effective speed limit there. The simulator calls it for every GPS
// fix it publishes and records a Crossing whenever the key changes; a load test
// injects one built from the same zones file as the gateway.
type ZoneProbe func(lat, lon float64) string

// Config configures a Fleet. Zero values take the defaults documented per field.
type Config struct {
	// Broker is the MQTT broker address: "host:port" or "tcp://host:port",
	// or "tls://host:port" (also "ssl://", "mqtts://") for MQTT over TLS.
	Broker string
	// TLS configures TLS brokers (nil: system roots, ServerName from Broker).
	TLS *tls.Config
	// Vehicles are the scooters to simulate, with their secrets.
	Vehicles []Credential
	// Graph is the street network to ride on (required).
	Graph *citymap.Graph

	Clock  Clock        // default SystemClock
	Logger *slog.Logger // default discards
	// Manual disables the internal ticker: the caller drives time with Step.
	Manual bool
	// Tick is the worker period in real-time mode (default 100 ms). It bounds
	// how late a periodic report can be, not command handling.
	Tick time.Duration
	// Workers is the number of goroutines sharing the scooters (default 2×GOMAXPROCS).
	Workers int

	GPSInterval       time.Duration // default 5 s (the brief's cadence)
	HeartbeatInterval time.Duration // default 30 s
	// GPSNoise is the standard deviation of the reported position's error in
	// metres (per axis, Gaussian); 0 reports the true position.
	GPSNoise float64

	// QuirkRate is the probability that a report or reply uses one of the
	// vendor's quirky encodings (unquoted strings, trailing commas, numeric
	// IMEI, decimals, three-field GPS).
	QuirkRate float64
	// OldFirmware is the fraction of scooters that emulate the old firmware:
	// they also send 55 (status) with each heartbeat and 57 (vibration) on "o".
	OldFirmware float64
	// VibrationPerHour is the rate of spontaneous vibration events of a parked
	// scooter (reported as 88, and 57 on old firmware).
	VibrationPerHour float64

	// Faults are fleet-wide fault probabilities; Fleet.SetFaults overrides
	// them per scooter.
	Faults Faults

	// MinSpeedKmh..MaxSpeedKmh is the rider's cruising speed, drawn per trip
	// (default 12..24), always capped by the scooter's current limit.
	MinSpeedKmh, MaxSpeedKmh float64
	// DrainPerKm is the battery use in percent per km (default 2.5).
	DrainPerKm float64
	// AutoRidePerHour is the rate at which a parked scooter starts a ride on
	// its own, as if a command 1 had come (0: rides start only by command 1
	// or ForceRide). Such rides end at their destination when AutoPark is set.
	AutoRidePerHour float64
	AutoPark        bool
	// WalkAfter: a powered scooter held at 0 km/h by its limit this long is
	// walked back the way it came at walking speed (default 30 s; the rider
	// pushes it out of a no-ride zone).
	WalkAfter time.Duration

	// ZoneProbe, when set, is called on every published fix (see Crossing).
	ZoneProbe ZoneProbe
	// OnCommand, when set, is called on the receiving goroutine for every
	// command a scooter receives (after it is recorded, before the reply is
	// published; without holding any simulator lock). It must be fast: it
	// delays that scooter's reply.
	OnCommand func(vehicle string, rec CommandRecord)
	// History is how many fixes, crossings and commands each scooter keeps
	// (default 32 each).
	History int

	Seed uint64
	// ConnectRate caps new connections per second (default 500); ConnectConcurrency
	// caps attempts in flight (default 64).
	ConnectRate        int
	ConnectConcurrency int
	ConnectTimeout     time.Duration // default 10 s
	ReconnectDelay     time.Duration // after a lost connection (default 2 s, ±50 % jitter)
	RebootDelay        time.Duration // offline time after 20/93 or >5 firmware failures (default 3 s)
	KeepAlive          time.Duration // MQTT keep-alive (default 60 s)
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Tick <= 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.Workers <= 0 {
		c.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if c.GPSInterval <= 0 {
		c.GPSInterval = 5 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 30 * time.Second
	}
	if c.MinSpeedKmh <= 0 {
		c.MinSpeedKmh = 12
	}
	if c.MaxSpeedKmh <= 0 {
		c.MaxSpeedKmh = 24
	}
	if c.DrainPerKm <= 0 {
		c.DrainPerKm = 2.5
	}
	if c.WalkAfter <= 0 {
		c.WalkAfter = 30 * time.Second
	}
	if c.History <= 0 {
		c.History = 32
	}
	if c.ConnectRate <= 0 {
		c.ConnectRate = 500
	}
	if c.ConnectConcurrency <= 0 {
		c.ConnectConcurrency = 64
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ReconnectDelay <= 0 {
		c.ReconnectDelay = 2 * time.Second
	}
	if c.RebootDelay <= 0 {
		c.RebootDelay = 3 * time.Second
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 60 * time.Second
	}
	if c.Faults.LateAckDelay <= 0 {
		c.Faults.LateAckDelay = 3 * time.Second
	}
}

func (c *Config) validate() error {
	if c.Graph == nil || len(c.Graph.Nodes) == 0 {
		return fmt.Errorf("%w: no street graph", ErrConfig)
	}
	if c.MinSpeedKmh > c.MaxSpeedKmh {
		return fmt.Errorf("%w: min speed above max speed", ErrConfig)
	}
	if !(c.GPSNoise >= 0 && c.GPSNoise < 1000) {
		return fmt.Errorf("%w: GPS noise %v m outside 0-1000", ErrConfig, c.GPSNoise)
	}
	for _, r := range []float64{c.QuirkRate, c.OldFirmware} {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("%w: rate %v outside 0-1", ErrConfig, r)
		}
	}
	if c.VibrationPerHour < 0 || c.AutoRidePerHour < 0 {
		return fmt.Errorf("%w: negative event rate", ErrConfig)
	}
	return c.Faults.validate()
}
