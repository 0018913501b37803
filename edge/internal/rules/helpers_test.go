package rules

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// origin is the local frame of the test cities (Madrid).
var origin = orb.Point{-3.7038, 40.4168}

const metresPerDegLat = 111_320.0

// at returns the point x metres east and y metres north of origin (flat
// approximation: good to well under 1% over a few km, enough for test data).
func at(x, y float64) orb.Point {
	return orb.Point{
		origin[0] + x/(metresPerDegLat*math.Cos(origin[1]*math.Pi/180)),
		origin[1] + y/metresPerDegLat,
	}
}

// rule is the JSON of one GBFS rule.
type rule map[string]any

func allowRule() rule {
	return rule{"ride_start_allowed": true, "ride_end_allowed": true, "ride_through_allowed": true}
}

func slowRule(kmh int) rule {
	r := allowRule()
	r["maximum_speed_kph"] = kmh
	return r
}

func noRideRule() rule {
	return rule{"ride_start_allowed": false, "ride_end_allowed": false, "ride_through_allowed": false}
}

func forTypes(r rule, types ...string) rule {
	c := rule{}
	for k, v := range r {
		c[k] = v
	}
	c["vehicle_type_ids"] = types
	return c
}

// testZone is a rectangle [x0,x1]×[y0,y1] in metres around origin.
type testZone struct {
	id             string
	x0, y0, x1, y1 float64
	rules          []rule
	kind           string
	alarm          bool
	// circle, when > 0, replaces the rectangle by a 24-vertex circle of
	// this radius (metres) centred in the rectangle.
	circle float64
}

// city builds a GBFS v3 geofencing_zones.json document and loads it.
func city(t testing.TB, global []rule, zones ...testZone) *zone.Set {
	t.Helper()
	features := make([]any, 0, len(zones))
	for _, z := range zones {
		pts := []orb.Point{at(z.x0, z.y0), at(z.x1, z.y0), at(z.x1, z.y1), at(z.x0, z.y1), at(z.x0, z.y0)}
		if z.circle > 0 {
			cx, cy := (z.x0+z.x1)/2, (z.y0+z.y1)/2
			pts = pts[:0]
			for k := range 24 {
				a := float64(k) / 24 * 2 * math.Pi
				pts = append(pts, at(cx+z.circle*math.Cos(a), cy+z.circle*math.Sin(a)))
			}
			pts = append(pts, pts[0])
		}
		ring := [][]float64{}
		for _, p := range pts {
			ring = append(ring, []float64{p[0], p[1]})
		}
		props := map[string]any{"rules": z.rules}
		ext := map[string]any{}
		if z.kind != "" {
			ext["kind"] = z.kind
		}
		if z.alarm {
			ext["alarm_on_entry"] = true
		}
		if len(ext) > 0 {
			props["fleetedge"] = ext
		}
		features = append(features, map[string]any{
			"type": "Feature", "id": z.id,
			"geometry":   map[string]any{"type": "MultiPolygon", "coordinates": [][][][]float64{{ring}}},
			"properties": props,
		})
	}
	data := map[string]any{"geofencing_zones": map[string]any{"type": "FeatureCollection", "features": features}}
	if global == nil {
		global = []rule{}
	}
	data["global_rules"] = global
	doc, err := json.Marshal(map[string]any{
		"last_updated": "2026-11-25T12:00:00Z", "ttl": 60, "version": "3.0", "data": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := zone.Load(doc, zone.Options{})
	if err != nil {
		t.Fatalf("zone.Load: %v", err)
	}
	return s
}

// fakeClock is a manual clock: timers fire, in due order, on the goroutine
// that calls Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	seq  int
	f    func()
	done bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Advance moves the clock forward by d, firing every timer that falls due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		live := c.timers[:0]
		for _, t := range c.timers {
			if !t.done {
				live = append(live, t)
			}
		}
		c.timers = live
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		t.done = true
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
	}
}

// pendingTimers counts timers not yet fired or stopped.
func (c *fakeClock) pendingTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// sent is one recorded command.
type sent struct {
	vehicle protocol.VehicleID
	code    protocol.Code
	kmh     int // 13 only; -1 otherwise
	reason  Reason
}

func (s sent) String() string {
	if s.code == protocol.CodeSetSpeedLimit {
		return string(s.vehicle) + ":13@" + itoa(s.kmh) + "(" + string(s.reason) + ")"
	}
	return string(s.vehicle) + ":" + itoa(int(s.code)) + "(" + string(s.reason) + ")"
}

func itoa(i int) string { return strconv.Itoa(i) }

// recorder is a Commander that records every command.
type recorder struct {
	mu  sync.Mutex
	log []sent
}

func (r *recorder) Command(v protocol.VehicleID, c protocol.Command, reason Reason) {
	s := sent{vehicle: v, code: c.Code(), kmh: -1, reason: reason}
	if sl, ok := c.(*protocol.SetSpeedLimit); ok {
		s.kmh = sl.KMH
	}
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

// take returns and clears the commands recorded so far.
func (r *recorder) take() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.log
	r.log = nil
	return out
}

// harness is an Engine with a fake clock and a recorder.
type harness struct {
	t   *testing.T
	e   *Engine
	clk *fakeClock
	rec *recorder
}

func newHarness(t *testing.T, cfg Config, set *zone.Set) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(), rec: &recorder{}}
	e, err := New(Options{Config: cfg, Commander: h.rec, Clock: h.clk, Zones: set})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	h.e = e
	return h
}

// fix sends a powered fix of vehicle "V1" (type "scooter", normal limit 20)
// at x, y metres at the clock's now and returns the events.
func (h *harness) fix(x, y float64) []link.Event {
	return h.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(x, y), Powered: true, NormalLimitKmh: 20})
}

func (h *harness) fixOf(f Fix) []link.Event {
	if f.Time.IsZero() {
		f.Time = h.clk.Now()
	}
	return h.e.OnFix(nil, f)
}

// expect checks the commands sent since the last call.
func (h *harness) expect(what string, want ...sent) {
	h.t.Helper()
	got := h.rec.take()
	if !slices.Equal(got, want) {
		h.t.Fatalf("%s: commands\n got  %v\n want %v", what, got, want)
	}
}

func limit(kmh int, reason Reason) sent {
	return sent{vehicle: "V1", code: protocol.CodeSetSpeedLimit, kmh: kmh, reason: reason}
}

func buzzer(reason Reason) sent {
	return sent{vehicle: "V1", code: protocol.CodeBuzzer, kmh: -1, reason: reason}
}

func motorLock() sent {
	return sent{vehicle: "V1", code: protocol.CodeMotorLock, kmh: -1, reason: ReasonTheft}
}

// alarms returns "reason/zone" of each alarm event, checking the events' shape.
func alarms(t *testing.T, evs []link.Event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		if ev.Kind != link.EventAlarm || ev.Alarm == nil || ev.Vehicle == "" || ev.Time.IsZero() {
			t.Fatalf("malformed alarm event %+v", ev)
		}
		out = append(out, ev.Alarm.Reason+"/"+ev.Alarm.ZoneID)
	}
	return out
}

func nan() float64 { return math.NaN() }

// protocolID turns a vehicle type into the vehicle number used for it.
func protocolID(typ string) protocol.VehicleID { return protocol.VehicleID(typ) }
