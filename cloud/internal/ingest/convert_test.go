package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// A gateway-level event (a technician's login, audited under "gateway:<id>") is stored
// like any event but creates no vehicle in the live state.
func TestGatewayEventsAreNoVehicles(t *testing.T) {
	at := time.Unix(1_764_072_000, 0).UTC()
	b := link.EventBatch{Header: link.Header{V: link.Version, Gateway: "gw1", City: "paris"}, Events: []link.Event{
		{Seq: 1, Vehicle: "gateway:gw1", Time: at, Kind: link.EventSecurity, Security: &link.SecurityEvent{Reason: "fieldui:login"}},
		{Seq: 2, Vehicle: "V1", Time: at, Kind: link.EventAlarm, Alarm: &link.AlarmEvent{Reason: "fallen"}},
	}}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	live := livestate.New()
	it, err := decode(link.EventsSubject("paris"), data, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(it.ev) != 2 {
		t.Fatalf("%d event rows, want 2", len(it.ev))
	}
	if _, ok := live.Get("paris", "gateway:gw1"); ok {
		t.Fatal("a gateway-level event became a vehicle")
	}
	if _, ok := live.Get("paris", "V1"); !ok {
		t.Fatal("the vehicle's event is missing from the live state")
	}
}

// A record processed after a newer one of the same vehicle (a resend after a gateway
// restart, a redelivery after a crash) keeps its own position; only groups it lacks
// come from the merged state.
func TestLateRecordKeepsItsOwnValues(t *testing.T) {
	at := time.Unix(1_764_072_000, 0).UTC()
	batch := func(seq uint64, t0 time.Time, lat float64) []byte {
		b, err := json.Marshal(link.TelemetryBatch{Header: link.Header{V: link.Version, Gateway: "gw1", City: "paris"},
			Records: []link.Telemetry{{Seq: seq, Vehicle: "V1", Time: t0, Position: &link.Position{Lat: lat, Lon: 2.35}}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	live := livestate.New()
	if _, err := decode(link.TelemetrySubject("paris"), batch(9, at.Add(10*time.Second), 48.9), live); err != nil {
		t.Fatal(err)
	}
	it, err := decode(link.TelemetrySubject("paris"), batch(5, at, 48.5), live)
	if err != nil {
		t.Fatal(err)
	}
	if got := it.tel[0].Lat; got != 48.5 {
		t.Fatalf("late record stored lat %v, want its own 48.5", got)
	}
	if v, _ := live.Get("paris", "V1"); v.Position.Lat != 48.9 {
		t.Fatalf("live state went back in time: %v", v.Position.Lat)
	}
}
