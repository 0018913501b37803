package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/edge/internal/ridetrack"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// rideScooter is a simulated scooter for the ride tests: a real MQTT client
// that obeys 1/3 (power), 73/75 (pause) and acks everything else like the
// firmware (tools/sim does the same; the edge module does not import tools),
// and can power off on its own.
type rideScooter struct {
	t  *testing.T
	id string
	c  paho.Client

	wg       sync.WaitGroup // replies being published
	mu       sync.Mutex
	powered  bool
	commands []string
}

func connectRideScooter(t *testing.T, addr, id, secret string) *rideScooter {
	t.Helper()
	s := &rideScooter{t: t, id: id}
	c, err := mqttConnect(t, "tcp://"+addr, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	t.Cleanup(s.wg.Wait) // runs before mqttConnect's Disconnect
	if tok := c.Subscribe(id, 1, func(_ paho.Client, m paho.Message) { s.onCommand(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return s
}

func (s *rideScooter) onCommand(payload []byte) {
	cmd, err := protocol.DecodeCommand(payload)
	if err != nil {
		return
	}
	code := cmd.Code()
	s.mu.Lock()
	s.commands = append(s.commands, string(payload))
	switch code {
	case protocol.CodePowerOn:
		s.powered = true
	case protocol.CodePowerOff:
		s.powered = false
	}
	s.mu.Unlock()
	reply, ok := protocol.ExpectedReply(code)
	if !ok {
		return
	}
	// Published from a new goroutine: paho's router must not block on our own publish.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.publish(fmt.Sprintf(`{"a":%d,"i":%q,"t":7,"s":0,"n":1}`, reply, s.id))
	}()
}

func (s *rideScooter) publish(p string) {
	if tok := s.c.Publish("bike", 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		s.t.Errorf("publish %s: %v", p, tok.Error())
	}
}

// heartbeat reports the scooter's power state (27 c).
func (s *rideScooter) heartbeat() {
	s.mu.Lock()
	c := 1
	if s.powered {
		c = 0
	}
	s.mu.Unlock()
	s.publish(fmt.Sprintf(`{"a":27,"i":%q,"b":77,"c":%d,"s":0,"r":38.2,"v":25,"x":3}`, s.id, c))
}

// fix reports a GPS position (ddmm.mmmm strings).
func (s *rideScooter) fix(g string) {
	s.publish(fmt.Sprintf(`{"a":19,"i":%q,"g":%q,"t":%d}`, s.id, g, time.Now().Unix()))
}

// powerOffBySelf: the rider (or the battery) switches the scooter off.
func (s *rideScooter) powerOffBySelf() {
	s.mu.Lock()
	s.powered = false
	s.mu.Unlock()
	s.heartbeat()
}

func (s *rideScooter) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// rideEventsIn returns the ride events in a gateway's outbox.
func rideEventsIn(t *testing.T, g *Gateway) []link.Event {
	t.Helper()
	recs, err := g.Outbox().Read(0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []link.Event
	for _, r := range recs {
		switch link.EventKind(r.Kind) {
		case link.EventRideStarted, link.EventRidePaused, link.EventRideResumed, link.EventRideEnded:
			var ev link.Event
			if err := json.Unmarshal(r.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
	}
	return out
}

func rideRequest(ride string, code int, suffix string) link.CommandRequest {
	return link.CommandRequest{V: link.Version, ID: ride + ":" + suffix, Vehicle: "S1", Code: code,
		Source: ridetrack.SourcePrefix + ride, TimeoutMs: 5000}
}

const testRide = "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70"

// TestRideTrackingScooterEndsRide: a ride command from the cloud (through the
// cloud link's handler) is acked by the scooter → ride_started with the ride
// id and the live position; pause and resume → their events; the scooter
// then powers off by itself → ride_ended "vehicle", and the ride is closed.
func TestRideTrackingScooterEndsRide(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	r := start(t, cfg)
	sc := connectRideScooter(t, r.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	sc.heartbeat()
	sc.fix("4025.6800,-342.4800,0,0")

	for _, step := range []struct {
		code   int
		suffix string
	}{{1, "start"}, {73, "pause:1"}, {75, "resume:1"}} {
		res := r.g.Commands().HandleRequest(t.Context(), rideRequest(testRide, step.code, step.suffix))
		if res.Outcome != link.OutcomeAcked {
			t.Fatalf("%d: %+v", step.code, res)
		}
	}
	if ride, ok := r.g.Rides().RideOf("S1"); !ok || ride.ID != testRide {
		t.Fatalf("open ride %+v %v", ride, ok)
	}
	sc.powerOffBySelf()
	waitFor(t, "ride_ended", func() bool { return len(rideEventsIn(t, r.g)) == 4 })
	evs := rideEventsIn(t, r.g)
	kinds := []link.EventKind{link.EventRideStarted, link.EventRidePaused, link.EventRideResumed, link.EventRideEnded}
	for i, e := range evs {
		if e.Kind != kinds[i] || e.Vehicle != "S1" || e.Ride.RideID != testRide || e.Ride.Position == nil ||
			e.Ride.Position.Lat < 40.42 || e.Ride.Position.Lon > -3.70 {
			t.Fatalf("event %d: %+v %+v", i, e, e.Ride)
		}
	}
	if evs[3].Ride.EndedBy != ridetrack.EndedByVehicle || evs[0].Ride.EndedBy != "" {
		t.Fatalf("ended by %q", evs[3].Ride.EndedBy)
	}
	if _, ok := r.g.Rides().RideOf("S1"); ok {
		t.Fatal("ride still open")
	}
	if m := getText(t, "http://"+r.g.Addrs().HTTP+"/metrics"); !containsAll(m,
		`fleetedge_ride_events_total{ended_by="vehicle",kind="ride_ended"} 1`, `fleetedge_rides_open 0`) {
		t.Fatalf("ride metrics missing:\n%s", m)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestRideSurvivesRestart: a gateway restart keeps the open ride; after it
// the zone rules apply to the riding scooter before its first heartbeat (a
// fix in the old-town slow zone gets 13 k=2010), and the scooter powering
// off ends the ride as "vehicle"; a cloud end of another ride is "cloud".
func TestRideSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	cfg.ZonesFile = filepath.Join("testdata", "zones.json")
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	r := start(t, cfg)
	sc := connectRideScooter(t, r.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	if res := r.g.Commands().HandleRequest(t.Context(), rideRequest(testRide, 1, "start")); res.Outcome != link.OutcomeAcked {
		t.Fatalf("start: %+v", res)
	}
	sc.wg.Wait() // the ack's PUBACK, before disconnecting
	sc.c.Disconnect(0)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	r2 := start(t, cfg)
	if ride, ok := r2.g.Rides().RideOf("S1"); !ok || ride.ID != testRide {
		t.Fatalf("ride after restart: %+v %v", ride, ok)
	}
	sc = connectRideScooter(t, r2.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	sc.mu.Lock()
	sc.powered = true // it kept riding while the gateway restarted
	sc.mu.Unlock()
	sc.fix("4025.6800,-342.4800,0,0") // no heartbeat yet: power unknown to the new gateway
	waitFor(t, "slow-zone limit for the riding scooter", func() bool {
		return slices.Contains(sc.received(), `{"a":13,"k":2010}`)
	})
	sc.powerOffBySelf()
	waitFor(t, "ride_ended after the restart", func() bool { return len(rideEventsIn(t, r2.g)) == 2 })
	if evs := rideEventsIn(t, r2.g); evs[1].Kind != link.EventRideEnded || evs[1].Ride.RideID != testRide ||
		evs[1].Ride.EndedBy != ridetrack.EndedByVehicle {
		t.Fatalf("events %+v", evs)
	}

	// A second ride ended by the cloud: ended_by "cloud", no "vehicle" end.
	const ride2 = "second-ride"
	for _, c := range []struct {
		code   int
		suffix string
	}{{1, "start"}, {3, "end"}} {
		if res := r2.g.Commands().HandleRequest(t.Context(), rideRequest(ride2, c.code, c.suffix)); res.Outcome != link.OutcomeAcked {
			t.Fatalf("%d: %+v", c.code, res)
		}
	}
	sc.heartbeat()
	evs := rideEventsIn(t, r2.g)
	if len(evs) != 4 || evs[3].Ride.RideID != ride2 || evs[3].Ride.EndedBy != ridetrack.EndedByCloud {
		t.Fatalf("events %+v", evs)
	}
	if len(r2.g.Rides().Open()) != 0 {
		t.Fatal("rides still open")
	}
}

// startNATSAt runs a JetStream server on port (-1: any) storing in dir.
func startNATSAt(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{ServerName: "gw-ride-test", Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// TestRideEndedWhileCloudUnreachable: a ride starts by a cloud request over
// NATS; the cloud goes away; the scooter ends the ride by powering off; the
// ride events wait in the outbox and reach FLEET_UP when the cloud is back,
// with the ride id and ended_by "vehicle".
func TestRideEndedWhileCloudUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	natsDir := t.TempDir()
	srv := startNATSAt(t, natsDir, port)
	url := srv.ClientURL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: link.StreamUp,
		Subjects: []string{link.SubjectsUp}, Storage: jetstream.FileStorage, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	cfg.Cloud.NATSURL = url
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	r := start(t, cfg)
	sc := connectRideScooter(t, r.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	sc.fix("4025.6800,-342.4800,0,0")

	// The cloud starts the ride over NATS (the rides service's request).
	req, err := json.Marshal(rideRequest(testRide, 1, "start"))
	if err != nil {
		t.Fatal(err)
	}
	var res link.CommandResult
	waitFor(t, "start answered over NATS", func() bool {
		msg, err := nc.Request(link.CommandSubject(link.CityID(cfg.City)), req, 3*time.Second)
		return err == nil && json.Unmarshal(msg.Data, &res) == nil
	})
	if res.Outcome != link.OutcomeAcked || res.Source != ridetrack.SourcePrefix+testRide {
		t.Fatalf("start result %+v", res)
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	// Cloud unreachable: the scooter ends the ride on its own.
	sc.powerOffBySelf()
	waitFor(t, "ride_ended in the outbox", func() bool {
		evs := rideEventsIn(t, r.g)
		return len(evs) > 0 && evs[len(evs)-1].Kind == link.EventRideEnded
	})

	// The cloud comes back: both ride events reach the stream.
	srv = startNATSAt(t, natsDir, port)
	nc2, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cons, err := js2.OrderedConsumer(ctx, link.StreamUp, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{link.EventsSubject(link.CityID(cfg.City))}})
	if err != nil {
		t.Fatal(err)
	}
	var rides []link.Event
	for !slices.ContainsFunc(rides, func(e link.Event) bool { return e.Kind == link.EventRideEnded }) {
		msg, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("waiting for ride events (have %+v): %v", rides, err)
		}
		b, err := link.DecodeEventBatch(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Events {
			if e.Ride != nil {
				rides = append(rides, e)
			}
		}
	}
	if len(rides) != 2 || rides[0].Kind != link.EventRideStarted || rides[1].Ride.RideID != testRide ||
		rides[1].Ride.EndedBy != ridetrack.EndedByVehicle || !rides[1].Time.After(rides[0].Time) {
		t.Fatalf("ride events in FLEET_UP: %+v", rides)
	}
	waitFor(t, "outbox drained", func() bool { return r.g.Outbox().Stats().Records == 0 })
}

// TestRideEndsWhenVehicleLost: a riding scooter that disconnects and stays
// silent past LostAfter has its ride ended by the gateway (the sweeper's
// "lost"), at its last message.
func TestRideEndsWhenVehicleLost(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	cfg.LostAfter = Duration(400 * time.Millisecond)
	cfg.SweepInterval = Duration(50 * time.Millisecond)
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	r := start(t, cfg)
	sc := connectRideScooter(t, r.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	sc.fix("4025.6800,-342.4800,0,0")
	if res := r.g.Commands().HandleRequest(t.Context(), rideRequest(testRide, 1, "start")); res.Outcome != link.OutcomeAcked {
		t.Fatalf("start: %+v", res)
	}
	sc.wg.Wait()
	sc.c.Disconnect(0)
	waitFor(t, "ride ended by the gateway", func() bool { return len(rideEventsIn(t, r.g)) == 2 })
	evs := rideEventsIn(t, r.g)
	veh, _ := r.g.Fleet().Get("S1")
	if e := evs[1]; e.Kind != link.EventRideEnded || e.Ride.EndedBy != ridetrack.EndedByGateway || e.Ride.RideID != testRide ||
		!e.Time.Equal(veh.LastSeen) || e.Ride.Position == nil {
		t.Fatalf("end event %+v %+v (last seen %v)", e, e.Ride, veh.LastSeen)
	}
}
