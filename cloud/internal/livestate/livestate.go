package livestate

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// Vehicle is the latest known state of one vehicle. A group's *At time is zero
// while the group was never reported.
type Vehicle struct {
	City    link.CityID
	Gateway link.GatewayID // the gateway of the newest record
	ID      string

	LastSeen time.Time // time of the newest record or event
	LastSeq  uint64    // seq of the newest record or event (on Gateway)

	Position   link.Position
	PositionAt time.Time
	SpeedKmh   float64
	SpeedAt    time.Time
	BatteryPct int
	BatteryAt  time.Time
	VoltageV   float64
	VoltageAt  time.Time
	Signal     int
	SignalAt   time.Time
	Status     link.Status
	StatusAt   time.Time

	// Connectivity is the last state_changed target among "online", "offline",
	// "lost" ("" until one arrives).
	Connectivity   string
	ConnectivityAt time.Time
}

const numShards = 64

type key struct {
	city    link.CityID
	vehicle string
}

type shard struct {
	mu       sync.RWMutex // guards vehicles and every *Vehicle in it
	vehicles map[key]*Vehicle
}

// Fleet is the latest state of every vehicle seen, across cities.
type Fleet struct {
	seed   maphash.Seed
	shards [numShards]shard
}

// New returns an empty Fleet.
func New() *Fleet {
	f := &Fleet{seed: maphash.MakeSeed()}
	for i := range f.shards {
		f.shards[i].vehicles = make(map[key]*Vehicle)
	}
	return f
}

func (f *Fleet) shard(vehicle string) *shard {
	return &f.shards[maphash.String(f.seed, vehicle)%numShards]
}

// newer reports whether a value at t replaces one held since at.
func newer(t, at time.Time) bool { return at.IsZero() || !t.Before(at) }

// Apply folds a telemetry record of city/gateway into the state and returns
// the vehicle's state after it.
func (f *Fleet) Apply(city link.CityID, gw link.GatewayID, r *link.Telemetry) Vehicle {
	s := f.shard(r.Vehicle)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.get(city, r.Vehicle)
	t := r.Time
	v.seen(gw, r.Seq, t)
	if r.Position != nil && newer(t, v.PositionAt) {
		v.Position, v.PositionAt = *r.Position, t
	}
	if r.SpeedKmh != nil && newer(t, v.SpeedAt) {
		v.SpeedKmh, v.SpeedAt = *r.SpeedKmh, t
	}
	if r.BatteryPct != nil && newer(t, v.BatteryAt) {
		v.BatteryPct, v.BatteryAt = *r.BatteryPct, t
	}
	if r.VoltageV != nil && newer(t, v.VoltageAt) {
		v.VoltageV, v.VoltageAt = *r.VoltageV, t
	}
	if r.Signal != nil && newer(t, v.SignalAt) {
		v.Signal, v.SignalAt = *r.Signal, t
	}
	if r.Status != nil && newer(t, v.StatusAt) {
		v.Status, v.StatusAt = *r.Status, t
	}
	return *v
}

// ApplyEvent folds an event into the state: every event refreshes LastSeen; a
// state_changed event to online/offline/lost sets Connectivity.
func (f *Fleet) ApplyEvent(city link.CityID, gw link.GatewayID, e *link.Event) {
	s := f.shard(e.Vehicle)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.get(city, e.Vehicle)
	v.seen(gw, e.Seq, e.Time)
	if e.Kind == link.EventStateChanged && e.State != nil && newer(e.Time, v.ConnectivityAt) {
		switch e.State.To {
		case "online", "offline", "lost":
			v.Connectivity, v.ConnectivityAt = e.State.To, e.Time
		}
	}
}

func (s *shard) get(city link.CityID, id string) *Vehicle {
	k := key{city, id}
	v := s.vehicles[k]
	if v == nil {
		v = &Vehicle{City: city, ID: id}
		s.vehicles[k] = v
	}
	return v
}

func (v *Vehicle) seen(gw link.GatewayID, seq uint64, t time.Time) {
	if newer(t, v.LastSeen) {
		v.LastSeen, v.Gateway, v.LastSeq = t, gw, seq
	}
}

// Get returns a copy of one vehicle's state.
func (f *Fleet) Get(city link.CityID, vehicle string) (Vehicle, bool) {
	s := f.shard(vehicle)
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.vehicles[key{city, vehicle}]
	if !ok {
		return Vehicle{}, false
	}
	return *v, true
}

// List returns copies of the vehicles of city (every city when city is "")
// for which keep (when not nil) returns true, ordered by city then id.
func (f *Fleet) List(city link.CityID, keep func(*Vehicle) bool) []Vehicle {
	var out []Vehicle
	for i := range f.shards {
		s := &f.shards[i]
		s.mu.RLock()
		for k, v := range s.vehicles {
			if (city == "" || k.city == city) && (keep == nil || keep(v)) {
				out = append(out, *v)
			}
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b Vehicle) int {
		if c := strings.Compare(string(a.City), string(b.City)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Len returns the number of vehicles held.
func (f *Fleet) Len() int {
	n := 0
	for i := range f.shards {
		s := &f.shards[i]
		s.mu.RLock()
		n += len(s.vehicles)
		s.mu.RUnlock()
	}
	return n
}
