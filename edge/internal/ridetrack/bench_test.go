package ridetrack

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// BenchmarkRulesHook is the tracker's cost on every accepted report (a fix
// of a powered-on vehicle) on top of the zone rules, with no ride open and
// with 1,000 rides open on other vehicles.
func BenchmarkRulesHook(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("open=%d", n), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "gw.db"), 0o600, outbox.BoltOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ob, err := outbox.New(db, outbox.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer ob.Close()
			cmds, err := command.New(command.Config{Publisher: publisherFunc(func(string, []byte, byte) error { return nil })})
			if err != nil {
				b.Fatal(err)
			}
			defer cmds.Close()
			fl := fleet.New(fleet.Options{})
			tr, err := New(Config{DB: db, Store: ob, Vehicles: fl, Commands: cmds})
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				tr.persist(&open{Ride: Ride{ID: fmt.Sprintf("r%d", i), Vehicle: protocol.VehicleID(fmt.Sprintf("R%05d", i)), Started: t0}})
			}
			hook := tr.WrapRules(nopRules{})
			u := fleet.Update{Vehicle: fleet.Vehicle{ID: "S1", Known: fleet.FieldPower | fleet.FieldPosition, Powered: true},
				Changes: fleet.ChangeFix}
			b.ReportAllocs()
			for b.Loop() {
				hook.OnUpdate(u, nil, t0)
			}
		})
	}
}

// BenchmarkStartEnd is what a ride start and a ride end cost the command's
// outcome path (the caller waits): the bbolt write of the ride record and
// the durable outbox append of its event, each an fsync on this disk.
func BenchmarkStartEnd(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "gw.db"), 0o600, outbox.BoltOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.New(db, outbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	cmds, err := command.New(command.Config{Publisher: publisherFunc(func(string, []byte, byte) error { return nil })})
	if err != nil {
		b.Fatal(err)
	}
	defer cmds.Close()
	tr, err := New(Config{DB: db, Store: ob, Vehicles: fleet.New(fleet.Options{}), Commands: cmds})
	if err != nil {
		b.Fatal(err)
	}
	outcome := func(code int) link.Event {
		return link.Event{Vehicle: "S1", Time: t0, Kind: link.EventCommand, Command: &link.CommandResult{
			V: link.Version, ID: "x", Vehicle: "S1", Code: code, Source: SourcePrefix + r1, Outcome: link.OutcomeAcked}}
	}
	start, end := outcome(codeStart), outcome(codeEnd)
	for b.Loop() {
		tr.OnCommandEvent(start)
		tr.OnCommandEvent(end)
	}
	if len(tr.Open()) != 0 {
		b.Fatal("ride left open")
	}
}

type nopRules struct{}

func (nopRules) OnUpdate(fleet.Update, protocol.Report, time.Time) []link.Event { return nil }
