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
