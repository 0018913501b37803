package sim

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetedge/fleetedge/protocol"
)

// cellProbe keys a position by a ~17 m wide longitude band, so riding
// scooters cross "borders" every few seconds.
func cellProbe(_, lon float64) string { return strconv.Itoa(int(math.Floor(lon * 5000))) }

// limitFor is the toy rule the test gateway applies: even bands 10 km/h,
// odd bands 20 km/h.
func limitFor(key string) int {
	n, _ := strconv.Atoi(key)
	if n%2 == 0 {
		return 10
	}
	return 20
}

// ruleHook is a minimal gateway: on every decodable GPS fix it evaluates the
// fix's band and sends 13 when the band changed since that vehicle's last fix.
type ruleHook struct {
	mochi.HookBase
	srv  *mochi.Server
	mu   sync.Mutex
	last map[string]string
}

func (h *ruleHook) ID() string           { return "rules" }
func (h *ruleHook) Provides(b byte) bool { return b == mochi.OnPublish }

func (h *ruleHook) OnPublish(_ *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	m, err := protocol.Decode(pk.TopicName, pk.Payload)
	if err != nil {
		return pk, nil
	}
	g, ok := m.(*protocol.GPSReport)
	if !ok {
		return pk, nil
	}
	key := cellProbe(g.Position.Lat, g.Position.Lon)
	h.mu.Lock()
	prev, seen := h.last[string(g.From)]
	h.last[string(g.From)] = key
	h.mu.Unlock()
	if seen && prev != key {
		cmd, _ := protocol.NewSetSpeedLimit(limitFor(key))
		pkt, _ := protocol.EncodeCommand(g.From, cmd)
		go h.srv.Publish(pkt.Topic, pkt.Payload, false, pkt.QoS) //nolint:errcheck // a lost command shows up as a missing record
	}
	return pk, nil
}

// TestLatencyPairsCommandsWithTheirCrossing rides scooters through a toy
// rule engine and checks that every 13 is paired with the crossing fix whose
// zone produced it, with a plausible latency.
func TestLatencyPairsCommandsWithTheirCrossing(t *testing.T) {
	b := startBroker(t)
	if err := b.srv.AddHook(&ruleHook{srv: b.srv, last: map[string]string{}}, nil); err != nil {
		t.Fatal(err)
	}
	vs := creds(5)
	f := startFleet(t, b, Config{Vehicles: vs, GPSInterval: 200 * time.Millisecond, GPSNoise: 3,
		MinSpeedKmh: 25, MaxSpeedKmh: 25, ZoneProbe: cellProbe})
	for _, v := range vs {
		f.ForceRide(v.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(f.Latencies()) < 30 {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d latencies measured", len(f.Latencies()))
		case <-time.After(20 * time.Millisecond):
		}
	}
	paired, total := 0, 0
	for _, v := range vs {
		st, _ := f.State(v.ID)
		for _, c := range st.Commands {
			if c.Code != 13 {
				continue
			}
			total++
			if c.Crossing == nil {
				continue
			}
			paired++
			if c.LimitKmh != limitFor(c.Crossing.Fix.Zone) {
				t.Errorf("13 to %d km/h paired with a crossing into band %s", c.LimitKmh, c.Crossing.Fix.Zone)
			}
			if c.Latency <= 0 || c.Latency > 2*time.Second {
				t.Errorf("latency %v", c.Latency)
			}
		}
	}
	t.Logf("%d of %d commands paired with their crossing", paired, total)
	if paired < total*9/10 {
		t.Fatalf("%d of %d commands paired with a crossing", paired, total)
	}
}
