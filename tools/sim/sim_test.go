package sim

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
	"github.com/fleetedge/fleetedge/shared/geo"
)

func TestScootersPublishDecodableGPSAndHeartbeats(t *testing.T) {
	b := startBroker(t)
	vs := creds(4)
	f := startFleet(t, b, Config{Vehicles: vs, OldFirmware: 1})
	for _, v := range vs {
		for _, c := range []protocol.Code{protocol.CodeGPSReport, protocol.CodeHeartbeat, protocol.CodeStatusParams} {
			b.wait(t, 0, v.ID+" "+c.String(), replyFrom(v.ID, c))
		}
	}
	g := barcelona(t)
	for _, m := range b.all() {
		if m.client != vs[0].ID {
			continue
		}
		r, err := protocol.Decode(m.topic, m.payload)
		if err != nil {
			t.Fatalf("undecodable %s on %s: %v", m.payload, m.topic, err)
		}
		switch r := r.(type) {
		case *protocol.GPSReport:
			if m.topic != "bike" {
				t.Fatalf("19 on %q", m.topic)
			}
			// Within 50 m (noise) of the scooter's node.
			st, _ := f.State(vs[0].ID)
			n := g.Nodes[st.EdgeFrom]
			if d, _, _ := geo.Inverse(n.Lat, n.Lon, r.Position.Lat, r.Position.Lon); d > 50 {
				t.Fatalf("fix %+v is %.0f m from the parked scooter", r.Position, d)
			}
		case *protocol.Heartbeat:
			if m.topic != "bike" || r.Power != 1 || r.Battery < 0 || r.Battery > 100 || r.Voltage < 33 || r.Voltage > 42 || r.Station != 3 {
				t.Fatalf("heartbeat %+v on %s", r, m.topic)
			}
		case *protocol.StatusParams:
			if m.topic != "o" {
				t.Fatalf("55 on %q", m.topic)
			}
		}
	}
}

func TestSpeedLimitCommandSlowsTheScooter(t *testing.T) {
	b := startBroker(t)
	vs := creds(2)
	f := startFleet(t, b, Config{Vehicles: vs, MinSpeedKmh: 20, MaxSpeedKmh: 20})
	id := vs[1].ID
	if err := f.ForceRide(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, f, id, "cruising", func(s State) bool { return s.SpeedKmh > 15 })
	cmd, err := protocol.NewSetSpeedLimit(5)
	if err != nil {
		t.Fatal(err)
	}
	from := b.len()
	b.command(t, id, cmd)
	m, _ := b.wait(t, from, "14", replyFrom(id, protocol.CodeSetSpeedLimitReply))
	r, _ := protocol.Decode(m.topic, m.payload)
	if rep := r.(*protocol.SetSpeedLimitReply); rep.Status != protocol.StatusOK || m.topic != "bike" {
		t.Fatalf("reply %+v on %s", rep, m.topic)
	}
	st := waitState(t, f, id, "slowed to 5 km/h", func(s State) bool { return s.SpeedKmh <= 5 && s.SpeedKmh > 0 })
	if st.LimitKmh != 5 || len(st.Commands) != 1 || st.Commands[0].Code != 13 || st.Commands[0].LimitKmh != 5 {
		t.Fatalf("state %+v", st)
	}
	// 2000 = stop.
	stop, _ := protocol.NewSetSpeedLimit(0)
	b.command(t, id, stop)
	waitState(t, f, id, "stopped", func(s State) bool { return s.LimitKmh == 0 && s.SpeedKmh == 0 })
}

// TestCommandReplies sends every command and checks the reply's code, topic
// and QoS-relevant shape, or that there is none.
func TestCommandReplies(t *testing.T) {
	b := startBroker(t)
	vs := creds(1)
	f := startFleet(t, b, Config{Vehicles: vs, GPSInterval: time.Hour, HeartbeatInterval: time.Hour})
	id := vs[0].ID
	mk := func(c protocol.Code, fields map[string]any) protocol.Command {
		cmd, err := protocol.NewCommand(c, fields)
		if err != nil {
			t.Fatalf("NewCommand(%d): %v", c, err)
		}
		return cmd
	}
	tests := []struct {
		cmd   protocol.Command
		reply protocol.Code // 0: none
		topic string
		check func(t *testing.T, r protocol.Message)
	}{
		{mk(protocol.CodePowerOn, nil), protocol.CodePowerOnReply, "bike", func(t *testing.T, r protocol.Message) {
			if rep := r.(*protocol.PowerOnReply); rep.Status != 0 || rep.Serial == 0 || rep.Nonce == 0 {
				t.Fatalf("%+v", rep)
			}
		}},
		{mk(protocol.CodeSetLampMode, map[string]any{"j": 0}), protocol.CodeSetLampModeReply, "bike", nil},
		{mk(protocol.CodeQueryParams, nil), protocol.CodeVehicleParams, "bike", func(t *testing.T, r protocol.Message) {
			if rep := r.(*protocol.VehicleParams); rep.Power != 0 || rep.SpeedLimitKMH() != 25 {
				t.Fatalf("%+v", rep)
			}
		}},
		{mk(protocol.CodePause, nil), protocol.CodePauseReply, "bike", nil},
		{mk(protocol.CodeResume, nil), protocol.CodeResumeReply, "bike", nil},
		{mk(protocol.CodePowerOff, nil), protocol.CodePowerOffReply, "bike", nil},
		{mk(protocol.CodeClearRideMileage, nil), protocol.CodeClearRideMileageReply, "bike", nil},
		{mk(protocol.CodeClearRideTime, nil), protocol.CodeClearRideTimeReply, "bike", nil},
		{mk(protocol.CodeClearTotalMileage, nil), protocol.CodeClearTotalMileageReply, "bike", nil},
		{mk(protocol.CodeClearTotalTime, nil), protocol.CodeClearTotalTimeReply, "bike", nil},
		{mk(protocol.CodeQueryGPS, nil), protocol.CodeGPSReport, "bike", nil},
		{mk(protocol.CodeQueryVersion, nil), protocol.CodeVersionReply, "bike", func(t *testing.T, r protocol.Message) {
			if rep := r.(*protocol.VersionReply); rep.Firmware == "" || len(rep.IMEI) != 15 || rep.Power != 1 {
				t.Fatalf("%+v", rep)
			}
		}},
		{mk(protocol.CodeQueryIMEI, nil), protocol.CodeIMEIReply, "bike", nil},
		{mk(protocol.CodeBuzzer, nil), 0, "", nil},
		{mk(protocol.CodeQueryServerParams, nil), protocol.CodeServerParamsReply, "bike", func(t *testing.T, r protocol.Message) {
			if rep := r.(*protocol.ServerParamsReply); !strings.HasPrefix(rep.Params, "127.0.0.1,") || !strings.Contains(rep.Params, ","+id+",") {
				t.Fatalf("%+v", rep)
			}
		}},
		{mk(protocol.CodeSetHeadlight, map[string]any{"d": 1}), protocol.CodeSetHeadlightReply, "bike", nil},
		{mk(protocol.CodeSetVibration, map[string]any{"v": 30}), protocol.CodeSetVibrationReply, "bike", nil},
		{mk(protocol.CodeSetDistanceUnit, map[string]any{"f": 0}), protocol.CodeSetDistanceUnitReply, "bike", nil},
		{mk(protocol.CodeSetAssistLevel, map[string]any{"k": 1}), protocol.CodeSetAssistLevelReply, "bike", nil},
		{mk(protocol.CodeSetAPN, map[string]any{"z": `AT+QICSGP=15,1,"apn","","",0`}), protocol.CodeSetAPNReply, "o", nil},
		{mk(protocol.CodeSpecialBuzzer, map[string]any{"v": 2, "i": 300, "L": 200}), 0, "", nil},
		{mk(protocol.CodeBatteryUnlock, nil), protocol.CodeBatteryUnlockReply, "bike", nil},
		{mk(protocol.CodeBatteryLock, nil), protocol.CodeBatteryLockReply, "bike", nil},
		{mk(protocol.CodeChainUnlock, nil), protocol.CodeChainUnlockReply, "bike", nil},
		{mk(protocol.CodeQueryChainLock, nil), protocol.CodeChainLockState, "bike", func(t *testing.T, r protocol.Message) {
			if rep := r.(*protocol.ChainLockState); rep.Status != 1 {
				t.Fatalf("chain should be open after 71: %+v", rep)
			}
		}},
		{mk(protocol.CodeQueryLog, nil), protocol.CodeLogReply, id, nil},
		{mk(protocol.CodeRebootIfUpdated, nil), 0, "", nil},
		{mk(protocol.CodeQuerySignal, nil), protocol.CodeSignalReply, "bike", nil},
		{mk(protocol.CodeSetServerParams, map[string]any{"u": "gw.example:1883:u:p:"}), protocol.CodeSetServerParamsReply, "bike", nil},
		{mk(protocol.CodeSetSerialNumber, map[string]any{"u": "SN123:"}), protocol.CodeSetSerialNumberReply, "bike", nil},
		{mk(protocol.CodeMotorLock, nil), protocol.CodeMotorLockReply, "bike", nil},
		{mk(protocol.CodeMotorUnlock, nil), protocol.CodeMotorUnlockReply, "bike", nil},
		{mk(protocol.CodeSetServerParamsLegacy, map[string]any{"u": "18.180.156.177,1844," + id + ",30,10,3"}), protocol.CodeSetServerParamsLegacyReply, "bike", nil},
	}
	for _, tt := range tests {
		t.Run(tt.cmd.Code().String(), func(t *testing.T) {
			from := b.len()
			b.command(t, id, tt.cmd)
			if tt.reply == 0 {
				// No reply: the next query's reply is the first message after it.
				b.command(t, id, mk(protocol.CodeQuerySignal, nil))
				m, _ := b.wait(t, from, "any report", func(m msg) bool { return m.client == id })
				if !replyFrom(id, protocol.CodeSignalReply)(m) {
					t.Fatalf("unexpected %s on %s", m.payload, m.topic)
				}
				return
			}
			m, _ := b.wait(t, from, tt.reply.String(), replyFrom(id, tt.reply))
			if m.topic != tt.topic {
				t.Fatalf("%s on topic %q, want %q", m.payload, m.topic, tt.topic)
			}
			if tt.check != nil {
				r, _ := protocol.Decode(m.topic, m.payload)
				tt.check(t, r)
			}
		})
	}
	st, _ := f.State(id)
	if st.Buzzes != 2 || st.GPSInterval != 30*time.Second {
		t.Fatalf("buzzes %d gps interval %v", st.Buzzes, st.GPSInterval)
	}
	if s := f.Stats(); s.BadCommands != 0 {
		t.Fatalf("bad commands: %+v", s)
	}
}

func TestRebootReconnects(t *testing.T) {
	b := startBroker(t)
	vs := creds(1)
	f := startFleet(t, b, Config{Vehicles: vs})
	b.command(t, vs[0].ID, &protocol.Reboot{})
	waitState(t, f, vs[0].ID, "offline", func(s State) bool { return !s.Connected })
	waitState(t, f, vs[0].ID, "back online", func(s State) bool { return s.Connected })
}

func TestFirmwareExchange(t *testing.T) {
	b := startBroker(t)
	vs := creds(1)
	f := startFleet(t, b, Config{Vehicles: vs, GPSInterval: time.Hour, HeartbeatInterval: time.Hour})
	id := vs[0].ID
	before, _ := f.State(id)
	start, _ := protocol.NewStartUpgrade(3)
	from := b.len()
	b.command(t, id, start)
	m, next := b.wait(t, from, "66", replyFrom(id, protocol.CodeStartUpgradeReply))
	if r, _ := protocol.Decode(m.topic, m.payload); r.(*protocol.StartUpgradeReply).Status != 0 {
		t.Fatalf("upgrade refused: %s", m.payload)
	}
	if err := f.Inject(id, FaultFirmwareFail); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0xAB}, 1024)
	send := func(x int, wantStatus protocol.Status) {
		t.Helper()
		pkg, err := protocol.NewFirmwarePackage(x, data)
		if err != nil {
			t.Fatal(err)
		}
		b.command(t, id, pkg)
		m, i := b.wait(t, next, "68", replyFrom(id, protocol.CodeFirmwarePackageReply))
		next = i + 1
		r, _ := protocol.Decode(m.topic, m.payload)
		if rep := r.(*protocol.FirmwarePackageReply); rep.Serial != x || rep.Status != wantStatus {
			t.Fatalf("68 %+v, want serial %d status %d", rep, x, wantStatus)
		}
	}
	send(0, protocol.StatusFailed) // injected failure: resend the same package
	send(0, protocol.StatusOK)
	send(1, protocol.StatusOK)
	send(2, protocol.StatusOK)
	m, _ = b.wait(t, next, "69", replyFrom(id, protocol.CodeUpgradeResult))
	if r, _ := protocol.Decode(m.topic, m.payload); r.(*protocol.UpgradeResult).Status != 0 {
		t.Fatalf("69 %s", m.payload)
	}
	after, _ := f.State(id)
	if after.Firmware == before.Firmware || after.Upgrading {
		t.Fatalf("firmware %q → %q, upgrading %v", before.Firmware, after.Firmware, after.Upgrading)
	}
}

// TestQuirkModeStillDecodes runs with every message quirky and checks that
// every payload decodes and that quirky forms were really produced.
func TestQuirkModeStillDecodes(t *testing.T) {
	b := startBroker(t)
	vs := creds(3)
	f := startFleet(t, b, Config{Vehicles: vs, QuirkRate: 1, OldFirmware: 1})
	for _, c := range []protocol.Code{protocol.CodeQueryVersion, protocol.CodeQueryIMEI, protocol.CodeQueryServerParams, protocol.CodeQueryParams} {
		for range 4 {
			cmd, _ := protocol.NewCommand(c, nil)
			b.command(t, vs[0].ID, cmd)
		}
	}
	for range 4 {
		cmd, _ := protocol.NewCommand(protocol.CodeSetServerParams, map[string]any{"u": "gw:1883:u:p:"})
		b.command(t, vs[0].ID, cmd)
	}
	b.wait(t, 0, "many reports", func(msg) bool { return b.len() > 150 })
	quirky := 0
	for _, m := range b.all() {
		if m.client == "inline" || m.topic == vs[0].ID {
			continue
		}
		if _, err := protocol.Decode(m.topic, m.payload); err != nil {
			t.Fatalf("quirky payload does not decode: %s: %v", m.payload, err)
		}
		if bytes.HasSuffix(m.payload, []byte(",}")) || !bytes.Contains(m.payload, []byte(`"i":"`)) || bytes.Contains(m.payload, []byte(".0,")) {
			quirky++
		}
	}
	if quirky < 20 {
		t.Fatalf("only %d quirky payloads", quirky)
	}
	_ = f
}

func TestFaults(t *testing.T) {
	b := startBroker(t)
	vs := creds(3)
	f := startFleet(t, b, Config{Vehicles: vs, Faults: Faults{LateAckDelay: 400 * time.Millisecond}})
	a, other := vs[0].ID, vs[1].ID
	fromA := func(m msg) bool { return m.client == a }
	t.Run("duplicate", func(t *testing.T) {
		from := b.len()
		if err := f.Inject(a, FaultDuplicate); err != nil {
			t.Fatal(err)
		}
		b.wait(t, from, "a duplicated fix", func(msg) bool {
			return duplicates(b.all()[from:], a, `"a":19`) >= 1
		})
	})
	t.Run("garbage", func(t *testing.T) {
		from := b.len()
		f.Inject(a, FaultGarbage)
		b.wait(t, from, "garbage", func(m msg) bool {
			_, err := protocol.Decode(m.topic, m.payload)
			return fromA(m) && err != nil
		})
	})
	t.Run("spoof", func(t *testing.T) {
		from := b.len()
		f.Inject(a, FaultSpoof)
		b.wait(t, from, "spoofed fix", func(m msg) bool {
			r, err := protocol.Decode(m.topic, m.payload)
			if !fromA(m) || err != nil {
				return false
			}
			rep, ok := r.(*protocol.GPSReport)
			return ok && string(rep.From) != a && string(rep.From) != "" && strings.HasPrefix(string(rep.From), "T")
		})
	})
	t.Run("late-ack", func(t *testing.T) {
		from := b.len()
		f.Inject(a, FaultLateAck)
		sent := time.Now()
		b.command(t, a, &protocol.QuerySignal{})
		m, _ := b.wait(t, from, "late 98", replyFrom(a, protocol.CodeSignalReply))
		if d := m.at.Sub(sent); d < 400*time.Millisecond {
			t.Fatalf("reply after %v, want ≥ 400ms", d)
		}
	})
	t.Run("missing-ack", func(t *testing.T) {
		from := b.len()
		f.Inject(a, FaultMissingAck)
		b.command(t, a, &protocol.QueryIMEI{})
		b.command(t, a, &protocol.QuerySignal{})
		b.wait(t, from, "98", replyFrom(a, protocol.CodeSignalReply))
		for _, m := range b.all()[from:] {
			if replyFrom(a, protocol.CodeIMEIReply)(m) {
				t.Fatalf("25 was sent: %s", m.payload)
			}
		}
		if f.Stats().DroppedReplies != 1 {
			t.Fatalf("stats %+v", f.Stats())
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		before := f.Stats().Disconnects
		if err := f.Inject(other, FaultDisconnect); err != nil {
			t.Fatal(err)
		}
		waitState(t, f, other, "reconnected", func(s State) bool {
			return f.Stats().Disconnects > before && s.Connected
		})
	})
	t.Run("rates", func(t *testing.T) {
		// A fleet-wide duplicate rate of 1 on one scooter: every fix twice.
		if err := f.SetFaults(vs[2].ID, &Faults{Duplicate: 1}); err != nil {
			t.Fatal(err)
		}
		from := b.len()
		b.wait(t, from, "three duplicated fixes", func(msg) bool {
			return duplicates(b.all()[from:], vs[2].ID, `"a":19`) >= 3
		})
		if err := f.SetFaults(vs[2].ID, &Faults{Duplicate: 2}); !errors.Is(err, ErrConfig) {
			t.Fatalf("rate 2 accepted: %v", err)
		}
	})
	if err := f.Inject("nope", FaultGarbage); !errors.Is(err, ErrUnknownVehicle) {
		t.Fatalf("unknown vehicle: %v", err)
	}
}

// TestCrossingLatency: a fix whose zone key changes is a crossing; the next
// 13 claims it and records arrival − publish time; a second 13 does not.
func TestCrossingLatency(t *testing.T) {
	b := startBroker(t)
	vs := creds(1)
	var zone atomic.Value
	zone.Store("normal")
	var seen atomic.Int32
	var fleet atomic.Pointer[Fleet]
	f := startFleet(t, b, Config{
		Vehicles: vs, GPSInterval: time.Hour, HeartbeatInterval: time.Hour,
		ZoneProbe: func(lat, lon float64) string { return zone.Load().(string) },
		OnCommand: func(v string, _ CommandRecord) {
			if fl := fleet.Load(); fl != nil {
				if _, err := fl.State(v); err == nil { // the callback may query the fleet
					seen.Add(1)
				}
			}
		},
	})
	fleet.Store(f)
	id := vs[0].ID
	if _, err := f.SendFix(id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SendFix("nope"); !errors.Is(err, ErrUnknownVehicle) {
		t.Fatalf("unknown vehicle: %v", err)
	}
	zone.Store("slow10")
	fx, err := f.SendFix(id)
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := protocol.NewSetSpeedLimit(10)
	b.command(t, id, cmd)
	b.command(t, id, cmd)
	st := waitState(t, f, id, "two commands", func(s State) bool { return len(s.Commands) == 2 })
	c := st.Commands[0]
	if c.Crossing == nil || c.Crossing.Fix.Seq != fx.Seq || c.Crossing.From != "normal" || c.Crossing.Fix.Zone != "slow10" {
		t.Fatalf("first 13: %+v", c)
	}
	if c.Latency <= 0 || c.Latency != c.At.Sub(fx.At) || c.Latency > 5*time.Second {
		t.Fatalf("latency %v", c.Latency)
	}
	if st.Commands[1].Crossing != nil {
		t.Fatalf("second 13 claimed a crossing: %+v", st.Commands[1])
	}
	if l := f.Latencies(); len(l) != 1 || l[0] != c.Latency || seen.Load() != 2 {
		t.Fatalf("latencies %v, callbacks %d", l, seen.Load())
	}
}

// TestRoutingStaysOnEdges rides a few scooters offline with a manual clock
// and checks every position lies on the edge the scooter reports.
func TestRoutingStaysOnEdges(t *testing.T) {
	g := barcelona(t)
	clk := NewManualClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	f := startFleet(t, nil, Config{Vehicles: creds(5), Clock: clk, Manual: true})
	for _, id := range f.IDs() {
		f.ForceRide(id)
	}
	for range 2000 {
		clk.Advance(500 * time.Millisecond)
		f.Step()
		for _, id := range f.IDs() {
			st, _ := f.State(id)
			if st.EdgeFrom == st.EdgeTo {
				n := g.Nodes[st.EdgeFrom]
				if math.Abs(n.Lat-st.Lat) > 1e-9 || math.Abs(n.Lon-st.Lon) > 1e-9 {
					t.Fatalf("%s at node %d but position %v,%v", id, st.EdgeFrom, st.Lat, st.Lon)
				}
				continue
			}
			e, ok := g.Edge(st.EdgeFrom, st.EdgeTo)
			if !ok {
				t.Fatalf("%s on non-edge %d→%d", id, st.EdgeFrom, st.EdgeTo)
			}
			a, z := g.Nodes[st.EdgeFrom], g.Nodes[st.EdgeTo]
			d1, _, _ := geo.Inverse(a.Lat, a.Lon, st.Lat, st.Lon)
			d2, _, _ := geo.Inverse(st.Lat, st.Lon, z.Lat, z.Lon)
			if math.Abs(d1+d2-e.Length) > 0.05 {
				t.Fatalf("%s off edge %d→%d by %.2f m", id, st.EdgeFrom, st.EdgeTo, d1+d2-e.Length)
			}
		}
	}
	st, _ := f.State(f.IDs()[0])
	if st.TotalKm < 2 || st.Battery >= 100 {
		t.Fatalf("rode %.2f km, battery %.1f", st.TotalKm, st.Battery)
	}
}

func TestDeterministicWithSeed(t *testing.T) {
	run := func(seed uint64) []State {
		clk := NewManualClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
		f := startFleet(t, nil, Config{Vehicles: creds(3), Clock: clk, Manual: true, Seed: seed})
		for _, id := range f.IDs() {
			f.ForceRide(id)
		}
		for range 300 {
			clk.Advance(time.Second)
			f.Step()
		}
		var out []State
		for _, id := range f.IDs() {
			st, _ := f.State(id)
			out = append(out, st)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if a[i].Lat != b[i].Lat || a[i].Lon != b[i].Lon || a[i].Battery != b[i].Battery || a[i].TotalKm != b[i].TotalKm {
			t.Fatalf("same seed differs: %+v vs %+v", a[i], b[i])
		}
	}
	if a[0].Lat == c[0].Lat && a[0].Lon == c[0].Lon {
		t.Fatalf("different seeds gave the same position")
	}
}

func TestProvision(t *testing.T) {
	doc, sec, err := Provision(ProvisionOptions{City: "barcelona", N: 3, Prefix: "BCN", Offset: 1, Type: "escooter", NormalLimitKmh: 25, Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(); err != nil || doc.V != link.Version || len(doc.Vehicles) != 3 {
		t.Fatalf("doc %+v: %v", doc, err)
	}
	for i, v := range sec.Vehicles {
		if v.ID != doc.Vehicles[i].ID || !devicecred.Verify([]byte(v.Secret), doc.Vehicles[i].CredentialHash) {
			t.Fatalf("vehicle %d: secret does not match hash", i)
		}
	}
	if sec.Vehicles[0].ID != "BCN00001" {
		t.Fatalf("first id %q", sec.Vehicles[0].ID)
	}
	data := []byte(`{"vehicles":[{"id":"bike","secret":"x"}]}`)
	if _, err := ParseSecrets(data); !errors.Is(err, ErrConfig) {
		t.Fatalf("vehicle named bike accepted: %v", err)
	}
	if _, _, err := Provision(ProvisionOptions{City: "Bad.City", N: 1}); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad city accepted: %v", err)
	}
}

// duplicates counts consecutive identical payloads containing sub published
// by client id.
func duplicates(all []msg, id, sub string) int {
	var prev []byte
	n := 0
	for _, m := range all {
		if m.client != id {
			continue
		}
		if prev != nil && bytes.Equal(prev, m.payload) && bytes.Contains(m.payload, []byte(sub)) {
			n++
		}
		prev = m.payload
	}
	return n
}

func TestLaunch(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := Launch(ctx, Config{Broker: b.addr, Vehicles: creds(3), Graph: barcelona(t)})
	if err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Connected != 3 {
		t.Fatalf("%+v", st)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing listens here: Launch gives up when ctx ends and closes the fleet.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := Launch(short, Config{Broker: "127.0.0.1:1", Vehicles: creds(1), Graph: barcelona(t)}); err == nil {
		t.Fatal("Launch against a closed port succeeded")
	}
}
