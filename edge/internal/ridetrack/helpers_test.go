package ridetrack

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

var t0 = time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)

// world is a tracker on a real bbolt file, outbox, live state and command
// manager, fed the way the gateway's ingest feeds it: fleet.Apply, the
// rules hook, then the command manager's OnReply.
type world struct {
	t        *testing.T
	path     string
	db       *bolt.DB
	ob       *outbox.Outbox
	fleet    *fleet.Fleet
	cmds     *command.Manager
	tr       *Tracker
	hook     Rules
	inner    *recordingRules
	sent     chan string // payloads the command manager published
	now      time.Time
	mu       sync.Mutex
	cmdEvent []link.Event
}

// recordingRules stands in for the zone rules: it records the updates it is
// given (to see the power the tracker hands on).
type recordingRules struct {
	mu      sync.Mutex
	updates []fleet.Update
}

func (r *recordingRules) OnUpdate(u fleet.Update, _ protocol.Report, _ time.Time) []link.Event {
	r.mu.Lock()
	r.updates = append(r.updates, u)
	r.mu.Unlock()
	return nil
}

func (r *recordingRules) last() fleet.Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.updates[len(r.updates)-1]
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, path: filepath.Join(t.TempDir(), "gw.db"), now: t0}
	w.open()
	return w
}

// open (re)opens everything on w.path, as a gateway start does.
func (w *world) open() {
	t := w.t
	var err error
	if w.db, err = bolt.Open(w.path, 0o600, outbox.BoltOptions()); err != nil {
		t.Fatal(err)
	}
	if w.ob, err = outbox.New(w.db, outbox.Options{}); err != nil {
		t.Fatal(err)
	}
	w.fleet = fleet.New(fleet.Options{LostAfter: 20 * time.Minute})
	w.sent = make(chan string, 16)
	if w.cmds, err = command.New(command.Config{
		Publisher: publisherFunc(func(_ string, p []byte, _ byte) error { w.sent <- string(p); return nil }),
		Events: sinkFunc(func(ev link.Event) {
			w.mu.Lock()
			w.cmdEvent = append(w.cmdEvent, ev)
			w.mu.Unlock()
			w.tr.OnCommandEvent(ev)
		}),
	}); err != nil {
		t.Fatal(err)
	}
	w.inner = &recordingRules{}
	if w.tr, err = New(Config{DB: w.db, Store: w.ob, Vehicles: w.fleet, Commands: w.cmds, Context: t.Context()}); err != nil {
		t.Fatal(err)
	}
	w.hook = w.tr.WrapRules(w.inner)
	t.Cleanup(w.close)
}

func (w *world) close() {
	if w.db == nil {
		return
	}
	if err := w.cmds.Close(); err != nil {
		w.t.Error(err)
	}
	if err := w.ob.Close(); err != nil {
		w.t.Error(err)
	}
	if err := w.db.Close(); err != nil {
		w.t.Error(err)
	}
	w.db = nil
}

type publisherFunc func(topic string, payload []byte, qos byte) error

func (f publisherFunc) Publish(topic string, payload []byte, qos byte) error {
	return f(topic, payload, qos)
}

type sinkFunc func(link.Event)

func (f sinkFunc) Emit(ev link.Event) { f(ev) }

// report delivers a raw scooter message the way the ingest does.
func (w *world) report(raw string) {
	w.t.Helper()
	w.now = w.now.Add(time.Second)
	msg, err := protocol.Decode("bike", []byte(raw))
	if err != nil {
		w.t.Fatalf("decode %s: %v", raw, err)
	}
	r := msg.(protocol.Report)
	u := w.fleet.Apply(r, w.now)
	w.hook.OnUpdate(u, r, w.now)
	w.cmds.OnReply(r.Vehicle(), r, w.now)
}

// send sends a command with a source and waits until it is published.
func (w *world) send(v string, code protocol.Code, source string) *command.Pending {
	w.t.Helper()
	cmd, err := protocol.NewCommand(code, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	w.cmds.VehicleOnline(protocol.VehicleID(v))
	p := w.cmds.Send(context.Background(), protocol.VehicleID(v), cmd, command.Options{Source: source})
	select {
	case <-w.sent:
	case <-time.After(5 * time.Second):
		w.t.Fatalf("command %d not published", code)
	}
	return p
}

// command sends code with source, has the scooter reply raw, and waits for
// the outcome.
func (w *world) command(v string, code protocol.Code, source, reply string) command.Result {
	w.t.Helper()
	p := w.send(v, code, source)
	w.report(reply)
	res, err := p.Wait(w.t.Context())
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

// rideEvents returns the ride events in the outbox, in seq order.
func (w *world) rideEvents() []link.Event {
	w.t.Helper()
	recs, err := w.ob.Read(0, 10_000)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []link.Event
	for _, r := range recs {
		if r.Class != outbox.ClassEvent {
			continue
		}
		var ev link.Event
		if err := json.Unmarshal(r.Payload, &ev); err != nil {
			w.t.Fatal(err)
		}
		if ev.Ride != nil {
			if string(ev.Kind) != r.Kind || ev.Vehicle != r.Vehicle || !ev.Time.Equal(r.Time) {
				w.t.Fatalf("record %+v does not match its event %+v", r, ev)
			}
			out = append(out, ev)
		}
	}
	return out
}

// stored returns the ride records in the bucket, by vehicle.
func (w *world) stored() map[string]record {
	w.t.Helper()
	out := map[string]record{}
	err := w.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(Bucket)).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out[string(k)] = r
			return nil
		})
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// Raw scooter messages.
const (
	fixS1      = `{"a":19,"i":"S1","g":"4123.1060,210.4040,0,0","t":1764086400}` // 41.38510, 2.17340
	onS1       = `{"a":27,"i":"S1","b":80,"c":0,"s":0,"r":38.5,"v":25,"x":3}`
	offS1      = `{"a":27,"i":"S1","b":80,"c":1,"s":0,"r":38.5,"v":25,"x":3}`
	ack1S1     = `{"a":2,"i":"S1","t":11,"s":0,"n":1}`
	ack1FailS1 = `{"a":2,"i":"S1","t":11,"s":1,"n":1}`
	ack3S1     = `{"a":4,"i":"S1","t":12,"s":0,"n":2}`
	ack3FailS1 = `{"a":4,"i":"S1","t":12,"s":1,"n":2}`
	ack73S1    = `{"a":74,"i":"S1","s":0}`
	ack75S1    = `{"a":76,"i":"S1","s":0}`
)

// rideEvent is the comparable part of a ride event.
type rideEvent struct {
	kind    link.EventKind
	ride    string
	endedBy string
	at      time.Time
}

func summary(evs []link.Event) []rideEvent {
	out := make([]rideEvent, len(evs))
	for i, e := range evs {
		out[i] = rideEvent{e.Kind, e.Ride.RideID, e.Ride.EndedBy, e.Time}
	}
	return out
}
