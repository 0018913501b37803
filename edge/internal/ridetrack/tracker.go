package ridetrack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// SourcePrefix marks a command that belongs to a ride: Source is
// SourcePrefix + the ride id.
const SourcePrefix = "ride:"

// Who ended a ride (link.RideEvent.EndedBy).
const (
	EndedByCloud   = "cloud"   // the cloud's power off (3) was acked
	EndedByVehicle = "vehicle" // the scooter powered off without the ride's cloud end
	EndedByGateway = "gateway" // the vehicle went lost mid-ride
)

// Bucket is the bbolt bucket holding the open rides.
const Bucket = "ridetrack.rides"

// MaxRideIDLen bounds a ride id taken from a command source.
const MaxRideIDLen = 64

// Protocol codes of the ride commands.
const (
	codeStart  = int(protocol.CodePowerOn)
	codeEnd    = int(protocol.CodePowerOff)
	codePause  = int(protocol.CodePause)
	codeResume = int(protocol.CodeResume)
)

// ErrConfig reports a Config missing a required dependency.
var ErrConfig = errors.New("ridetrack: invalid config")

// Store is where ride events go: the outbox (or the gateway's tap in front
// of it). Append returns after the record is durable.
type Store interface {
	Append(ctx context.Context, r outbox.Record) (uint64, error)
}

// Vehicles gives the live state of a vehicle (position, power): *fleet.Fleet.
type Vehicles interface {
	Get(id protocol.VehicleID) (fleet.Vehicle, bool)
}

// Commands lists a vehicle's open commands: *command.Manager.
type Commands interface {
	Open(v protocol.VehicleID) []command.OpenCommand
}

// Rules is the ingest's rules hook (broker.Rules) that WrapRules decorates.
type Rules interface {
	OnUpdate(u fleet.Update, msg protocol.Report, now time.Time) []link.Event
}

// Config wires a Tracker. DB, Store, Vehicles and Commands are required.
type Config struct {
	DB       *bolt.DB
	Store    Store
	Vehicles Vehicles
	Commands Commands
	// Context bounds the outbox appends (the gateway's lifetime); nil: they
	// are bounded only by the outbox.
	Context    context.Context
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics not registered
}

// Ride is an open ride as the tracker holds it.
type Ride struct {
	ID      string
	Vehicle protocol.VehicleID
	Started time.Time // the start ack's time
	Paused  bool
}

// record is a Ride as stored in Bucket.
type record struct {
	V       int       `json:"v"`
	ID      string    `json:"id"`
	Vehicle string    `json:"vehicle"`
	Started time.Time `json:"started"`
	Paused  bool      `json:"paused,omitempty"`
}

const recordVersion = 1

// open is a tracked ride plus what only memory needs.
type open struct {
	Ride
	// offAt is when a power off was reported while this ride's cloud end
	// was pending (zero: none): the end time if that end then fails.
	offAt time.Time
}

// Tracker tracks open rides; see the package documentation.
type Tracker struct {
	db       *bolt.DB
	store    Store
	vehicles Vehicles
	commands Commands
	ctx      context.Context
	log      *slog.Logger

	opMu  sync.Mutex   // serialises state changes: persist + append
	mu    sync.RWMutex // guards rides
	rides map[protocol.VehicleID]*open
	n     atomic.Int64 // len(rides), read without a lock on the report path

	events *prometheus.CounterVec
	errs   prometheus.Counter
}

// New opens (creating if needed) the rides bucket and loads the open rides.
func New(cfg Config) (*Tracker, error) {
	if cfg.DB == nil || cfg.Store == nil || cfg.Vehicles == nil || cfg.Commands == nil {
		return nil, fmt.Errorf("%w: DB, Store, Vehicles and Commands are required", ErrConfig)
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{db: cfg.DB, store: cfg.Store, vehicles: cfg.Vehicles, commands: cfg.Commands, ctx: cfg.Context,
		log: cfg.Logger.With("component", "ridetrack"), rides: map[protocol.VehicleID]*open{}}
	err := cfg.DB.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(Bucket))
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil || r.V != recordVersion || r.ID == "" || r.Vehicle != string(k) {
				// Keep it (an operator may inspect it) but do not track it.
				t.log.Error("unreadable ride record skipped", "key", string(k), "err", err)
				return nil
			}
			t.rides[protocol.VehicleID(k)] = &open{Ride: Ride{ID: r.ID, Vehicle: protocol.VehicleID(r.Vehicle), Started: r.Started, Paused: r.Paused}}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ridetrack: load %s: %w", Bucket, err)
	}
	t.n.Store(int64(len(t.rides)))
	if err := t.initMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	if len(t.rides) > 0 {
		t.log.Info("open rides loaded", "count", len(t.rides))
	}
	return t, nil
}

func (t *Tracker) initMetrics(reg prometheus.Registerer) error {
	t.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetedge_ride_events_total",
		Help: "Ride events appended to the outbox, by kind and (for ride_ended) who ended the ride.",
	}, []string{"kind", "ended_by"})
	t.errs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetedge_ride_store_errors_total",
		Help: "Ride events or ride records that could not be stored.",
	})
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fleetedge_rides_open", Help: "Rides the gateway is tracking.",
	}, func() float64 { return float64(t.n.Load()) })
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{t.events, t.errs, open} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("ridetrack: register metrics: %w", err)
		}
	}
	return nil
}

// Open returns the open rides, ordered by vehicle.
func (t *Tracker) Open() []Ride {
	t.mu.RLock()
	out := make([]Ride, 0, len(t.rides))
	for _, r := range t.rides {
		out = append(out, r.Ride)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Ride) int { return strings.Compare(string(a.Vehicle), string(b.Vehicle)) })
	return out
}

// RideOf returns the open ride of vehicle v.
func (t *Tracker) RideOf(v protocol.VehicleID) (Ride, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if r, ok := t.rides[v]; ok {
		return r.Ride, true
	}
	return Ride{}, false
}

func (t *Tracker) get(v protocol.VehicleID) *open {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.rides[v]
}

// RideID returns the ride id of a command source "ride:<id>"; false for
// other sources and malformed ids (1–MaxRideIDLen characters of
// [0-9A-Za-z_-]; the cloud uses UUIDs).
func RideID(source string) (string, bool) {
	id, ok := strings.CutPrefix(source, SourcePrefix)
	if !ok || id == "" || len(id) > MaxRideIDLen {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return "", false
		}
	}
	return id, true
}

// OnCommandEvent looks at one event the command manager emitted and acts on
// the outcomes of ride commands (see the package documentation). Other
// events are ignored at the cost of a string prefix check. It blocks until
// the ride event is durable.
func (t *Tracker) OnCommandEvent(ev link.Event) {
	c := ev.Command
	if ev.Kind != link.EventCommand || c == nil || !strings.HasPrefix(c.Source, SourcePrefix) {
		return
	}
	id, ok := RideID(c.Source)
	if !ok {
		t.log.Warn("ride command with a malformed ride id ignored", "source", c.Source, "vehicle", c.Vehicle)
		return
	}
	v := protocol.VehicleID(c.Vehicle)
	at := ev.Time
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if c.Outcome != link.OutcomeAcked {
		if c.Code == codeEnd {
			t.endFailed(v, id)
		}
		return
	}
	switch c.Code {
	case codeStart:
		t.start(v, id, at)
	case codePause, codeResume:
		kind := link.EventRidePaused
		if c.Code == codeResume {
			kind = link.EventRideResumed
		}
		if r := t.get(v); r != nil && r.ID == id {
			r2 := *r
			r2.Paused = c.Code == codePause
			t.persist(&r2)
		}
		t.appendEvent(v, at, kind, &link.RideEvent{RideID: id, Position: t.position(v)})
	case codeEnd:
		t.end(v, id, at, EndedByCloud)
	}
}

// start opens ride id on v. Caller holds opMu.
func (t *Tracker) start(v protocol.VehicleID, id string, at time.Time) {
	if r := t.get(v); r != nil {
		if r.ID == id {
			return // already open: the same start reported twice
		}
		t.log.Warn("ride started on a vehicle with another open ride; the old one is dropped",
			"vehicle", string(v), "ride", id, "old_ride", r.ID)
	}
	t.persist(&open{Ride: Ride{ID: id, Vehicle: v, Started: at}})
	t.appendEvent(v, at, link.EventRideStarted, &link.RideEvent{RideID: id, Position: t.position(v)})
}

// end appends ride_ended for ride id of v, then forgets the ride if it is
// the open one. Caller holds opMu.
func (t *Tracker) end(v protocol.VehicleID, id string, at time.Time, by string) {
	if !t.appendEvent(v, at, link.EventRideEnded, &link.RideEvent{RideID: id, Position: t.position(v), EndedBy: by}) {
		return // not durable: keep the ride, so its end can still be reported
	}
	if r := t.get(v); r != nil && r.ID == id {
		t.remove(v)
	}
}

// endFailed handles a ride end (3) that was not acked: if the vehicle
// reported its power off meanwhile (or is known to be off), the ride is
// over all the same. Caller holds opMu.
func (t *Tracker) endFailed(v protocol.VehicleID, id string) {
	r := t.get(v)
	if r == nil || r.ID != id {
		return
	}
	at := r.offAt
	if at.IsZero() {
		veh, ok := t.vehicles.Get(v)
		if !ok || !veh.Known.Has(fleet.FieldPower) || veh.Powered {
			return // still riding (or unknown): the cloud decides what next
		}
		at = veh.LastSeen
	}
	t.end(v, id, at, EndedByVehicle)
}

// cloudEndPending reports whether a power off of ride id is open for v.
func (t *Tracker) cloudEndPending(v protocol.VehicleID, id string) bool {
	for _, c := range t.commands.Open(v) {
		if int(c.Code) == codeEnd && c.Source == SourcePrefix+id {
			return true
		}
	}
	return false
}

// onPoweredOff handles a power-off report of v at now. Caller holds opMu.
func (t *Tracker) onPoweredOff(v protocol.VehicleID, now time.Time) {
	r := t.get(v)
	if r == nil {
		return
	}
	if t.cloudEndPending(v, r.ID) {
		t.mu.Lock()
		if r.offAt.IsZero() {
			r.offAt = now
		}
		t.mu.Unlock()
		return
	}
	t.end(v, r.ID, now, EndedByVehicle)
}

// OnFleetUpdate handles an update made outside a report (the fleet
// sweeper): a vehicle on a ride that went lost ends it as "gateway" at its
// LastSeen.
func (t *Tracker) OnFleetUpdate(u fleet.Update, now time.Time) {
	if !u.Changes.Has(fleet.ChangeLost) || t.n.Load() == 0 {
		return
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	r := t.get(u.Vehicle.ID)
	if r == nil {
		return
	}
	at := u.Vehicle.LastSeen
	if at.IsZero() || at.After(now) {
		at = now
	}
	t.end(u.Vehicle.ID, r.ID, at, EndedByGateway)
}

// WrapRules returns inner decorated with the tracker: a vehicle with an open
// ride and unknown power is given to inner as powered on, and a power off
// reported during a ride ends it (see the package documentation).
func (t *Tracker) WrapRules(inner Rules) Rules { return &rulesHook{t: t, inner: inner} }

type rulesHook struct {
	t     *Tracker
	inner Rules
}

func (h *rulesHook) OnUpdate(u fleet.Update, msg protocol.Report, now time.Time) []link.Event {
	t := h.t
	if t.n.Load() == 0 {
		return h.inner.OnUpdate(u, msg, now)
	}
	v := &u.Vehicle
	if !v.Known.Has(fleet.FieldPower) && u.Changes.Has(fleet.ChangeFix|fleet.ChangeVibration) && t.get(v.ID) != nil {
		// Restarted gateway, no heartbeat yet: the ride says it is powered.
		v.Known |= fleet.FieldPower
		v.Powered = true
	}
	evs := h.inner.OnUpdate(u, msg, now)
	if u.Changes.Has(fleet.ChangePoweredOff) && t.get(v.ID) != nil {
		t.opMu.Lock()
		t.onPoweredOff(v.ID, now)
		t.opMu.Unlock()
	}
	return evs
}

// position is v's last fix from the live state, nil when none.
func (t *Tracker) position(v protocol.VehicleID) *link.Position {
	veh, ok := t.vehicles.Get(v)
	if !ok || !veh.Known.Has(fleet.FieldPosition) {
		return nil
	}
	p := veh.Position
	return &link.Position{Lat: p.Lat, Lon: p.Lon, LBS: p.LBS, Alarm: p.Alarm, FixTime: p.FixTime}
}

// persist stores r and puts it in the map (even if the write failed: the
// ride is open all the same). Caller holds opMu.
func (t *Tracker) persist(r *open) {
	b, err := json.Marshal(record{V: recordVersion, ID: r.ID, Vehicle: string(r.Vehicle), Started: r.Started, Paused: r.Paused})
	if err == nil {
		err = t.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(Bucket)).Put([]byte(r.Vehicle), b)
		})
	}
	if err != nil {
		t.errs.Inc()
		t.log.Error("ride record not stored", "vehicle", string(r.Vehicle), "ride", r.ID, "err", err)
	}
	t.mu.Lock()
	if _, ok := t.rides[r.Vehicle]; !ok {
		t.n.Add(1)
	}
	t.rides[r.Vehicle] = r
	t.mu.Unlock()
}

// remove forgets v's ride. Caller holds opMu.
func (t *Tracker) remove(v protocol.VehicleID) {
	err := t.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(Bucket)).Delete([]byte(v)) })
	if err != nil {
		// The ride stays on disk: after a restart its end may be reported
		// again, which the cloud ignores.
		t.errs.Inc()
		t.log.Error("ride record not deleted", "vehicle", string(v), "err", err)
	}
	t.mu.Lock()
	if _, ok := t.rides[v]; ok {
		delete(t.rides, v)
		t.n.Add(-1)
	}
	t.mu.Unlock()
}

// appendEvent appends a ride event durably; false if it could not be stored.
func (t *Tracker) appendEvent(v protocol.VehicleID, at time.Time, kind link.EventKind, re *link.RideEvent) bool {
	ev := link.Event{Vehicle: string(v), Time: at, Kind: kind, Ride: re}
	b, err := json.Marshal(ev)
	if err == nil {
		_, err = t.store.Append(t.ctx, outbox.Record{Class: outbox.ClassEvent, Time: at, Vehicle: string(v), Kind: string(kind), Payload: b})
	}
	if err != nil {
		t.errs.Inc()
		t.log.Error("ride event not stored", "vehicle", string(v), "kind", string(kind), "ride", re.RideID, "err", err)
		return false
	}
	t.events.WithLabelValues(string(kind), re.EndedBy).Inc()
	t.log.Info("ride event", "vehicle", string(v), "kind", string(kind), "ride", re.RideID, "ended_by", re.EndedBy)
	return true
}
