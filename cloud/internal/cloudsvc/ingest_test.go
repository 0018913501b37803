package cloudsvc

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestAppIngestsTelemetry: a gateway's telemetry batch published to the embedded
// NATS reaches ClickHouse once (also when the gateway resends it) and the live state;
// its event batch reaches PostgreSQL's vehicle_events once (also when resent).
func TestAppIngestsTelemetry(t *testing.T) {
	cfg := testConfig(t, RoleAll)
	app, cancel, runErr := startApp(t, cfg)
	waitReady(t, app, runErr)

	at := time.Now().UTC().Truncate(time.Millisecond)
	speed, battery := 17.5, 81
	batch := link.TelemetryBatch{Header: link.Header{V: link.Version, Gateway: "riga-gw-1", City: "riga"},
		Records: []link.Telemetry{
			{Seq: 7, Vehicle: "RG001", Time: at, Position: &link.Position{Lat: 56.95, Lon: 24.11}, SpeedKmh: &speed},
			{Seq: 9, Vehicle: "RG001", Time: at.Add(time.Second), BatteryPct: &battery},
		}}
	data, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(app.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The same records twice, under two message ids (a resend batched differently):
	// JetStream keeps both messages, the store must count the records once.
	for _, id := range []string{link.MsgID("riga-gw-1", 7, 9), "riga-gw-1.resend"} {
		if _, err := js.Publish(t.Context(), link.TelemetrySubject("riga"), data, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}

	evBatch := link.EventBatch{Header: link.Header{V: link.Version, Gateway: "riga-gw-1", City: "riga"},
		Events: []link.Event{
			{Seq: 11, Vehicle: "RG001", Time: at, Kind: link.EventAlarm, Alarm: &link.AlarmEvent{Reason: "fallen"}},
			{Seq: 12, Vehicle: "RG009", Time: at.Add(time.Second), Kind: link.EventStateChanged, State: &link.StateEvent{From: "online", To: "offline"}},
		}}
	evData, err := json.Marshal(evBatch)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{link.MsgID("riga-gw-1", 11, 12), "riga-gw-1.events-resend"} {
		if _, err := js.Publish(t.Context(), link.EventsSubject("riga"), evData, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}

	st, err := chstore.Open(t.Context(), cfg.ClickHouse.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := chstore.Window{From: at.Add(-time.Minute), To: at.Add(time.Minute)}
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts, err := st.TelemetryCounts(t.Context(), "riga", w)
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) == 1 && counts[0].Vehicle == "RG001" && counts[0].Count == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse telemetry counts %+v, want RG001: 2", counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pool, err := pgxpool.New(t.Context(), cfg.Postgres.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	deadline = time.Now().Add(20 * time.Second)
	for {
		var n, alarms int
		err := pool.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE kind = 'alarm' AND payload->>'reason' = 'fallen')
			FROM vehicle_events WHERE city = 'riga' AND gateway = 'riga-gw-1'`).Scan(&n, &alarms)
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 && alarms == 1 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("vehicle_events: %d rows (%d fallen alarms), want 2 (1)", n, alarms)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok := app.Live().Get("riga", "RG001"); !ok {
		t.Fatal("vehicle missing from the live state")
	} else if b, _ := json.Marshal(v); len(b) < 10 {
		t.Fatalf("live state %s", b)
	}
	stopApp(t, app, cancel, runErr)
}
