package ingest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// FuzzDecode: whatever arrives on FLEET_UP, decode never panics, and either
// rejects it as unprocessable (dead letter) or yields rows that chstore will
// accept (identity set, values in range).
func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(telemetryBatch(1, 5, 2))
	ev, _ := json.Marshal(&link.EventBatch{Header: link.Header{V: 1, Gateway: gw, City: city}, Events: []link.Event{
		{Seq: 7, Vehicle: "V1", Time: t0, Kind: link.EventCommand, Command: &link.CommandResult{Code: 13, Outcome: "acked"}},
		{Seq: 8, Vehicle: "V1", Time: t0, Kind: "x"},
	}})
	f.Add("fleet.up.testcity.telemetry", good)
	f.Add("fleet.up.testcity.events", ev)
	f.Add("fleet.up.testcity.events", []byte(`{"v":1,"gateway":"g","city":"testcity","events":[{"seq":1,"vehicle":"v","time":"2026-01-01T00:00:00Z","kind":"alarm"}]}`))
	f.Add("fleet.up.testcity.telemetry", []byte(`{"v":1,"gateway":"g","city":"testcity","records":[{"seq":1,"vehicle":"v","time":"2026-01-01T00:00:00Z","position":{"lat":1e308,"lon":0}}]}`))
	f.Add("fleet.up.testcity.events", []byte(`{"v":1,"gateway":"g","city":"testcity","events":[{"seq":1,"vehicle":"v","time":"2026-01-01T00:00:00Z","kind":""}]}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		it, err := decode(subject, data, livestate.New())
		if err != nil {
			if !errors.Is(err, errUnprocessable) {
				t.Fatalf("error %v is not errUnprocessable", err)
			}
			return
		}
		for i := range it.tel {
			r := &it.tel[i]
			if r.Vehicle == "" || r.Seq == 0 || r.Time.IsZero() || r.Lat < -90 || r.Lat > 90 || r.Lon < -180 || r.Lon > 180 || r.BatteryPct > 100 {
				t.Fatalf("row %d not acceptable: %+v", i, r)
			}
		}
		for i := range it.ev {
			if it.ev[i].Kind == "" || it.ev[i].Vehicle == "" || !json.Valid([]byte(it.ev[i].Details)) {
				t.Fatalf("event row %d not acceptable: %+v", i, it.ev[i])
			}
		}
	})
}
