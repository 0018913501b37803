package fleet

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// DefaultLostAfter is how long a vehicle may stay silent before it is lost.
const DefaultLostAfter = 20 * time.Minute

// numShards spreads vehicles over this many locks (a power of two).
const numShards = 64

// Clock is the time source of RunSweeper.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Options configure a Fleet; the zero value is usable.
type Options struct {
	// LostAfter is the silence after which a vehicle is lost (DefaultLostAfter if 0).
	LostAfter time.Duration
	// Clock is used by RunSweeper (the wall clock if nil).
	Clock Clock
}

// Fleet is the live state of every vehicle the gateway knows. Safe for
// concurrent use; see doc.go.
type Fleet struct {
	lostAfter time.Duration
	clock     Clock
	shards    [numShards]shard
	counts    [numStates]atomic.Int64
}

type shard struct {
	mu       sync.Mutex // guards vehicles and every *Vehicle in it
	vehicles map[protocol.VehicleID]*Vehicle
}

// New returns an empty Fleet.
func New(opts Options) *Fleet {
	f := &Fleet{lostAfter: opts.LostAfter, clock: opts.Clock}
	if f.lostAfter <= 0 {
		f.lostAfter = DefaultLostAfter
	}
	if f.clock == nil {
		f.clock = wallClock{}
	}
	for i := range f.shards {
		f.shards[i].vehicles = make(map[protocol.VehicleID]*Vehicle)
	}
	return f
}

// LostAfter returns the configured silence before a vehicle is lost.
func (f *Fleet) LostAfter() time.Duration { return f.lostAfter }

func (f *Fleet) shard(id protocol.VehicleID) *shard {
	// FNV-1a, inlined to avoid allocating a hasher per call.
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return &f.shards[h&(numShards-1)]
}

// get returns the vehicle, creating it (offline) if needed; s.mu must be held.
func (f *Fleet) get(s *shard, id protocol.VehicleID, now time.Time) (*Vehicle, Change) {
	if v, ok := s.vehicles[id]; ok {
		return v, 0
	}
	v := &Vehicle{ID: id, State: StateOffline, StateSince: now}
	s.vehicles[id] = v
	f.counts[StateOffline].Add(1)
	return v, ChangeFirstSeen
}

func (f *Fleet) move(v *Vehicle, to State, now time.Time) Change {
	from := v.State
	ch := v.setState(to, now)
	if ch != 0 {
		f.counts[from].Add(-1)
		f.counts[to].Add(1)
	}
	return ch
}

// Register makes the vehicles known (offline, never seen) so lists show the
// whole configured fleet; vehicles already known are left alone.
func (f *Fleet) Register(now time.Time, ids ...protocol.VehicleID) {
	for _, id := range ids {
		s := f.shard(id)
		s.mu.Lock()
		f.get(s, id, now)
		s.mu.Unlock()
	}
}

// Apply folds a decoded report from its vehicle into the live state. now is
// the receive time. A message proves the vehicle is connected, so a lost or
// offline vehicle becomes online.
func (f *Fleet) Apply(r protocol.Report, now time.Time) Update {
	id := r.Vehicle()
	s := f.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ch := f.get(s, id, now)
	prev := v.State
	ch |= v.apply(r, now)
	ch |= f.move(v, StateOnline, now)
	v.LastSeen = now
	v.Messages++
	return Update{Vehicle: *v, Changes: ch, PrevState: prev}
}

// Connect records an established MQTT session of the vehicle.
func (f *Fleet) Connect(id protocol.VehicleID, now time.Time) Update {
	s := f.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ch := f.get(s, id, now)
	prev := v.State
	ch |= f.move(v, StateOnline, now)
	v.ConnectedAt, v.LastSeen = now, now
	return Update{Vehicle: *v, Changes: ch, PrevState: prev}
}

// Disconnect records the end of the vehicle's session. A lost vehicle stays
// lost (it was already silent).
func (f *Fleet) Disconnect(id protocol.VehicleID, now time.Time) Update {
	s := f.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ch := f.get(s, id, now)
	prev := v.State
	if v.State == StateOnline {
		ch |= f.move(v, StateOffline, now)
	}
	return Update{Vehicle: *v, Changes: ch, PrevState: prev}
}

// Sweep marks as lost every vehicle not heard from (message or connection)
// for LostAfter before now, and returns those updates. Vehicles never seen
// are not lost: they were never found.
func (f *Fleet) Sweep(now time.Time) []Update {
	var out []Update
	cutoff := now.Add(-f.lostAfter)
	for i := range f.shards {
		s := &f.shards[i]
		s.mu.Lock()
		for _, v := range s.vehicles {
			if v.State == StateLost || v.LastSeen.IsZero() || v.LastSeen.After(cutoff) {
				continue
			}
			prev := v.State
			ch := f.move(v, StateLost, now)
			out = append(out, Update{Vehicle: *v, Changes: ch, PrevState: prev})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Update) int { return strings.Compare(string(a.Vehicle.ID), string(b.Vehicle.ID)) })
	return out
}

// RunSweeper calls Sweep every interval (the Clock's time) and hands each
// update to onLost, until ctx ends. It runs in the caller's goroutine.
func (f *Fleet) RunSweeper(ctx context.Context, interval time.Duration, onLost func(Update)) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, u := range f.Sweep(f.clock.Now()) {
				if onLost != nil {
					onLost(u)
				}
			}
		}
	}
}

// Get returns a copy of the vehicle's state.
func (f *Fleet) Get(id protocol.VehicleID) (Vehicle, bool) {
	s := f.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vehicles[id]
	if !ok {
		return Vehicle{}, false
	}
	return *v, true
}

// List returns copies of the vehicles for which keep returns true (all when
// keep is nil), sorted by vehicle number.
func (f *Fleet) List(keep func(*Vehicle) bool) []Vehicle {
	out := make([]Vehicle, 0, f.Len())
	for i := range f.shards {
		s := &f.shards[i]
		s.mu.Lock()
		for _, v := range s.vehicles {
			if keep == nil || keep(v) {
				out = append(out, *v)
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Vehicle) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Count returns how many vehicles are in state s.
func (f *Fleet) Count(s State) int {
	if s >= numStates {
		return 0
	}
	return int(f.counts[s].Load())
}

// Len returns how many vehicles the Fleet knows.
func (f *Fleet) Len() int {
	n := int64(0)
	for i := range f.counts {
		n += f.counts[i].Load()
	}
	return int(n)
}
