package gateway

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// startCloudNATS runs a JetStream server with the up stream, as the cloud does.
func startCloudNATS(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{ServerName: "gw-uplink-test", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: link.StreamUp,
		Subjects: []string{link.SubjectsUp}, Storage: jetstream.FileStorage, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL()
}

// TestGatewayUplink: with a cloud NATS configured, what a scooter reports reaches
// the FLEET_UP stream as a telemetry batch of the gateway's city, and the outbox
// empties once JetStream has acknowledged it.
func TestGatewayUplink(t *testing.T) {
	url := startCloudNATS(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Cloud.NATSURL = url
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	r := start(t, cfg)

	c, err := mqttConnect(t, "tcp://"+r.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		`{"a":19,"i":"S1","g":"4125.2000,210.0000,0,0","t":1764072000}`,
		`{"a":27,"i":"S1","b":64,"c":0,"s":0,"r":38.1,"v":25,"x":3}`,
	} {
		if tok := c.Publish("bike", 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, link.StreamUp, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{link.TelemetrySubject(link.CityID(cfg.City))}})
	if err != nil {
		t.Fatal(err)
	}
	var got []link.Telemetry
	for len(got) < 2 {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("waiting for telemetry (have %d records): %v", len(got), err)
		}
		b, err := link.DecodeTelemetryBatch(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		if b.Gateway != link.GatewayID(cfg.GatewayID) || b.City != link.CityID(cfg.City) {
			t.Fatalf("batch header %+v", b.Header)
		}
		got = append(got, b.Records...)
	}
	if got[0].Vehicle != "S1" || got[0].Position == nil || got[0].Position.Lat < 41.42 {
		t.Fatalf("first record %+v", got[0])
	}
	if got[1].BatteryPct == nil || *got[1].BatteryPct != 64 {
		t.Fatalf("second record %+v", got[1])
	}
	waitFor(t, "outbox drained", func() bool { return r.g.Outbox().Stats().Records == 0 })
}
