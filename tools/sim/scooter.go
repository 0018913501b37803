package sim

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/fleetedge/fleetedge/tools/citymap"
)

// Fix is a GPS fix a scooter published (19, unsolicited or the reply to 18).
type Fix struct {
	Seq uint64
	// At is the clock time taken just before the fix was handed to MQTT.
	At time.Time
	// Lat, Lon is the reported position (with noise, rounded to the 1e-4
	// minute resolution of the wire format): what the gateway sees.
	Lat, Lon float64
	// TrueLat, TrueLon is where the scooter really was.
	TrueLat, TrueLon float64
	// Zone is ZoneProbe(Lat, Lon), "" without a probe.
	Zone  string
	Reply bool // published as the reply to 18
}

// Crossing is a published fix whose zone key differs from the previous fix's:
// the fix that should make the gateway react.
type Crossing struct {
	Fix  Fix
	From string // the previous fix's zone key
}

// CommandRecord is one command a scooter received.
type CommandRecord struct {
	Code int
	// At is the arrival time (clock), taken first thing in the MQTT handler.
	At time.Time
	// LimitKmh is the requested limit of a 13 (k − 2000), else -1.
	LimitKmh int
	// LastFix is the sequence number of the last fix published before the
	// command arrived (0: none yet).
	LastFix uint64
	// Crossing is set on a 13 when an earlier crossing is still unclaimed: the
	// latest crossing published before arrival and after the crossing claimed
	// by the previous 13. Latency = At − Crossing.Fix.At.
	Crossing *Crossing
	Latency  time.Duration
	// Err is the decode error of an undecodable command ("" when decoded).
	Err string
}

// State is a snapshot of one scooter.
type State struct {
	ID        string
	Connected bool
	Powered   bool
	Paused    bool
	Walking   bool // pushed back by the rider after a 0 km/h limit
	LimitKmh  int
	SpeedKmh  float64
	Lat, Lon  float64 // true position
	// Edge is the street edge the scooter is on (From == To at a node).
	EdgeFrom, EdgeTo int
	Battery          float64 // %
	TotalKm, RideKm  float64
	Firmware         string
	Upgrading        bool
	OldFirmware      bool
	Buzzes           int
	GPSInterval      time.Duration
	Fixes            []Fix
	Crossings        []Crossing
	Commands         []CommandRecord
}

// out is one MQTT publish a scooter is about to make.
type out struct {
	topic   string
	qos     byte
	payload []byte
	at      time.Time // for delayed replies: when to send
}

// upgrade is the firmware exchange in progress (23 → 66, 67 → 68 …, 69).
type upgrade struct {
	active   bool
	packages int
	got      map[int]bool
	failures map[int]int
}

// scooter is one simulated vehicle. mu guards everything below it; the MQTT
// client is used outside mu.
type scooter struct {
	f    *Fleet
	idx  int
	cred Credential
	id   protocol.VehicleID
	old  bool

	mu  sync.Mutex
	rng *rand.Rand

	client      mqtt.Client
	conn        *dropConn
	gen         uint64 // connection generation: stale callbacks are ignored
	connected   bool
	connecting  bool
	reconnectAt time.Time
	offlineTill time.Time // reboot: stay offline until then

	powered, paused, selfRide, walking, motorLocked bool
	cursor                                          *citymap.Cursor
	cruise, speed                                   float64 // km/h
	limit, normal                                   int     // km/h
	stoppedSince                                    time.Time
	battery                                         float64
	totalM, rideM, totalS, rideS                    float64
	lastStep, nextGPS, nextHB                       time.Time
	gpsInterval, hbInterval                         time.Duration
	fallen                                          bool
	vibSens, lampMode, serial                       int
	chainOpen, updated, batteryOpen                 bool
	firmware                                        string
	up                                              upgrade
	params                                          string // last 101/33 parameters
	buzzes                                          int

	fixSeq    uint64
	fixes     []Fix
	crossings []Crossing
	claimed   uint64 // Fix.Seq of the crossing claimed by the last 13
	lastZone  string
	haveZone  bool
	commands  []CommandRecord
	delayed   []out
	armed     map[Fault]int
	faults    *Faults // per-scooter override of Config.Faults
}

func newScooter(f *Fleet, idx int, cred Credential, now time.Time) *scooter {
	cfg := &f.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(idx)))
	s := &scooter{
		f: f, idx: idx, cred: cred, id: protocol.VehicleID(cred.ID), rng: rng,
		normal: cred.NormalLimitKmh, battery: 40 + 60*rng.Float64(),
		gpsInterval: cfg.GPSInterval, hbInterval: cfg.HeartbeatInterval,
		vibSens: 25, firmware: "FW2.3.1", armed: map[Fault]int{},
	}
	if s.normal == 0 {
		s.normal = 25
	}
	s.limit = s.normal
	s.old = rng.Float64() < cfg.OldFirmware
	s.cursor, _ = citymap.Start(cfg.Graph, cfg.Graph.RandomNode(rng))
	// Spread the reports over their intervals so the fleet's load is even.
	s.lastStep = now
	s.nextGPS = now.Add(time.Duration(rng.Int64N(int64(s.gpsInterval))))
	s.nextHB = now.Add(time.Duration(rng.Int64N(int64(s.hbInterval))))
	return s
}

// take reports whether fault k happens now: an armed one-shot, else by rate.
// Caller holds mu.
func (s *scooter) take(k Fault) bool {
	if s.armed[k] > 0 {
		s.armed[k]--
		return true
	}
	fs := &s.f.cfg.Faults
	if s.faults != nil {
		fs = s.faults
	}
	r := fs.rate(k)
	return r > 0 && s.rng.Float64() < r
}

func (s *scooter) lateDelay() time.Duration {
	if s.faults != nil && s.faults.LateAckDelay > 0 {
		return s.faults.LateAckDelay
	}
	return s.f.cfg.Faults.LateAckDelay
}

// position is the true position. Caller holds mu.
func (s *scooter) position() citymap.Point { return s.cursor.Position() }

// step advances the scooter to now and returns what to publish. Caller holds mu.
func (s *scooter) step(now time.Time, outs []out) (res []out, connect bool, drop bool) {
	dt := now.Sub(s.lastStep)
	s.lastStep = now
	if dt < 0 {
		dt = 0
	}
	cfg := &s.f.cfg
	wasParked := !s.powered
	s.move(now, dt)
	// Riders leave scooters with less than 15 % alone.
	if wasParked && !s.powered && cfg.AutoRidePerHour > 0 && s.rng.Float64() < cfg.AutoRidePerHour*dt.Hours() && s.battery >= 15 {
		s.powerOn(true)
	}
	vibrate := !s.powered && cfg.VibrationPerHour > 0 && s.rng.Float64() < cfg.VibrationPerHour*dt.Hours()
	// Delayed (late) replies that are due.
	keep := s.delayed[:0]
	for _, d := range s.delayed {
		if !now.Before(d.at) {
			if s.connected {
				outs = append(outs, d)
			}
		} else {
			keep = append(keep, d)
		}
	}
	s.delayed = keep
	if !s.connected {
		if !s.connecting && !now.Before(s.reconnectAt) && !now.Before(s.offlineTill) {
			s.connecting = true
			connect = true
		}
		// A module without a connection does not queue its reports.
		for !now.Before(s.nextGPS) {
			s.nextGPS = s.nextGPS.Add(s.gpsInterval)
		}
		for !now.Before(s.nextHB) {
			s.nextHB = s.nextHB.Add(s.hbInterval)
		}
		return outs, connect, false
	}
	if vibrate {
		outs = s.vibration(outs)
	}
	if !now.Before(s.nextGPS) {
		s.nextGPS = s.nextGPS.Add(s.gpsInterval)
		if s.nextGPS.Before(now) {
			s.nextGPS = now.Add(s.gpsInterval)
		}
		pkt, ok := s.fix(now, false)
		if ok {
			outs = append(outs, pkt)
			if s.take(FaultDuplicate) {
				outs = append(outs, pkt)
			}
		}
		if s.take(FaultGarbage) {
			outs = append(outs, out{topic: protocol.TopicNameBike, qos: 1, payload: s.garbage()})
		}
		if s.take(FaultSpoof) {
			outs = append(outs, s.spoof(now))
		}
		if s.take(FaultDisconnect) {
			drop = true
		}
	}
	if !now.Before(s.nextHB) {
		s.nextHB = s.nextHB.Add(s.hbInterval)
		if s.nextHB.Before(now) {
			s.nextHB = now.Add(s.hbInterval)
		}
		outs = s.heartbeat(outs)
	}
	return outs, false, drop
}

// move advances the ride by dt. Caller holds mu.
func (s *scooter) move(now time.Time, dt time.Duration) {
	cfg := &s.f.cfg
	if !s.powered {
		s.speed = 0
		return
	}
	secs := dt.Seconds()
	target := 0.0
	switch {
	case s.walking:
		target = 4
	case s.paused || s.motorLocked || s.battery <= 0 || s.cursor.Done():
	default:
		target = math.Min(s.cruise, float64(s.limit))
	}
	// Limit 0 while the rider wants to go: after WalkAfter, push it back.
	if s.limit == 0 && !s.walking && !s.paused && !s.cursor.Done() {
		if s.stoppedSince.IsZero() {
			s.stoppedSince = now
		} else if now.Sub(s.stoppedSince) >= cfg.WalkAfter {
			s.walking, s.stoppedSince = true, time.Time{}
			s.cursor = s.cursor.Reverse()
		}
	} else if s.limit > 0 {
		s.stoppedSince = time.Time{}
		if s.walking {
			s.walking = false
		}
	}
	// Accelerate at 1.5 m/s², brake at 3 m/s² (km/h per second: ×3.6).
	v0 := s.speed
	switch {
	case target > v0:
		s.speed = math.Min(target, v0+1.5*3.6*secs)
	case target < v0:
		s.speed = math.Max(target, v0-3*3.6*secs)
	}
	dist := (v0 + s.speed) / 2 / 3.6 * secs
	moved := s.cursor.Advance(dist)
	s.totalM += moved
	s.rideM += moved
	s.totalS += secs
	s.rideS += secs
	s.battery = math.Max(0, s.battery-moved/1000*cfg.DrainPerKm)
	if s.cursor.Done() {
		s.walking = false
		if s.selfRide && cfg.AutoPark {
			s.powerOff()
			return
		}
		s.newTrip()
	}
}

// newTrip routes to a random node 0.5–4 km away. Caller holds mu.
func (s *scooter) newTrip() {
	g := s.f.cfg.Graph
	here := s.cursor.Position()
	dest := g.RandomNode(s.rng)
	for range 10 {
		p := g.Nodes[dest]
		d, _, _ := geo.Inverse(here.Lat, here.Lon, p.Lat, p.Lon)
		if d >= 500 && d <= 4000 {
			break
		}
		dest = g.RandomNode(s.rng)
	}
	if c, err := s.cursor.Reroute(dest); err == nil {
		s.cursor = c
	}
	s.cruise = s.f.cfg.MinSpeedKmh + s.rng.Float64()*(s.f.cfg.MaxSpeedKmh-s.f.cfg.MinSpeedKmh)
}

// powerOn starts a ride (command 1, ForceRide or AutoRide). Caller holds mu.
func (s *scooter) powerOn(self bool) {
	if s.powered {
		return
	}
	s.powered, s.paused, s.selfRide = true, false, self
	s.rideM, s.rideS = 0, 0
	s.newTrip()
}

// powerOff ends the ride where the scooter is. Caller holds mu.
func (s *scooter) powerOff() {
	s.powered, s.paused, s.walking, s.selfRide = false, false, false, false
	s.speed = 0
	s.stoppedSince = time.Time{}
}

// fix builds a GPS report of the current position and records it. Caller holds mu.
func (s *scooter) fix(now time.Time, reply bool) (out, bool) {
	p := s.position()
	lat, lon := p.Lat, p.Lon
	if sd := s.f.cfg.GPSNoise; sd > 0 {
		dn, de := s.rng.NormFloat64()*sd, s.rng.NormFloat64()*sd
		lat, lon, _ = geo.Direct(lat, lon, math.Atan2(de, dn)*180/math.Pi, math.Hypot(dn, de))
	}
	// The wire carries 1e-4 arc-minutes: probe what the gateway will see.
	lat = math.Round(lat*600000) / 600000
	lon = math.Round(lon*600000) / 600000
	r := &protocol.GPSReport{
		Header:   protocol.Header{From: s.id},
		Position: protocol.GPS{Lat: lat, Lon: lon},
		Time:     now.Unix(),
	}
	if s.fallen {
		r.Position.Business = protocol.BusinessAlarm
	}
	pkt, err := protocol.EncodeReport(r, s.quirks())
	if err != nil {
		s.f.stats.encodeErrors.Add(1)
		return out{}, false
	}
	s.fixSeq++
	fx := Fix{Seq: s.fixSeq, At: s.f.cfg.Clock.Now(), Lat: lat, Lon: lon, TrueLat: p.Lat, TrueLon: p.Lon, Reply: reply}
	if probe := s.f.cfg.ZoneProbe; probe != nil {
		fx.Zone = probe(lat, lon)
		if s.haveZone && fx.Zone != s.lastZone {
			s.crossings = appendCapped(s.crossings, Crossing{Fix: fx, From: s.lastZone}, s.f.cfg.History)
		}
		s.lastZone, s.haveZone = fx.Zone, true
	}
	s.fixes = appendCapped(s.fixes, fx, s.f.cfg.History)
	return out{topic: pkt.Topic, qos: pkt.QoS, payload: pkt.Payload}, true
}

// heartbeat appends 27 (and 55 on old firmware). Caller holds mu.
func (s *scooter) heartbeat(outs []out) []out {
	power := 1
	if s.powered {
		power = 0
	}
	posture := 0
	if s.fallen {
		posture = 1
	}
	hb := &protocol.Heartbeat{
		Header:  protocol.Header{From: s.id},
		Battery: int(math.Round(s.battery)), Power: power, Posture: posture,
		Voltage: s.voltage(), Vibration: s.vibSens, Station: 3,
	}
	n := len(outs)
	outs = s.report(outs, hb, "")
	if len(outs) > n && s.take(FaultDuplicate) {
		outs = append(outs, outs[len(outs)-1])
	}
	if s.old {
		outs = s.report(outs, &protocol.StatusParams{Header: protocol.Header{From: s.id}, Posture: posture, Voltage: s.voltage()}, "")
	}
	return outs
}

// vibration appends 88 (and 57 on old firmware) unless the alarm is off.
// Caller holds mu.
func (s *scooter) vibration(outs []out) []out {
	if s.vibSens == 0 {
		return outs
	}
	outs = s.report(outs, &protocol.VibrationCheck{Header: protocol.Header{From: s.id}}, "")
	if s.old {
		outs = s.report(outs, &protocol.VibrationDetected{Header: protocol.Header{From: s.id}}, "")
	}
	return outs
}

// voltage models a 10S Li-ion pack: 33 V empty, 42 V full, one decimal.
func (s *scooter) voltage() float64 {
	return math.Round((33+9*s.battery/100)*10) / 10
}

// report encodes r with a random quirk set and appends it. topic overrides
// the registry's topic when not empty. Caller holds mu.
func (s *scooter) report(outs []out, r protocol.Report, topic string) []out {
	pkt, err := protocol.EncodeReport(r, s.quirks())
	if err != nil {
		s.f.stats.encodeErrors.Add(1)
		s.f.log.Warn("encode report", "vehicle", s.cred.ID, "code", int(r.Code()), "err", err)
		return outs
	}
	if topic == "" {
		topic = pkt.Topic
	}
	return append(outs, out{topic: topic, qos: pkt.QoS, payload: pkt.Payload})
}

// quirks draws the vendor deviations for one message. Caller holds mu.
func (s *scooter) quirks() protocol.Quirks {
	var q protocol.Quirks
	if r := s.f.cfg.QuirkRate; r <= 0 || s.rng.Float64() >= r {
		return q
	}
	switch s.rng.IntN(5) {
	case 0:
		q.UnquotedStrings = true
	case 1:
		q.NumericIMEI = true
	case 2:
		q.Decimals = true
	case 3:
		q.ShortGPS = true
	}
	if s.rng.IntN(2) == 0 {
		q.TrailingComma = true
	}
	return q
}

// garbage is an undecodable payload. Caller holds mu.
func (s *scooter) garbage() []byte {
	switch s.rng.IntN(4) {
	case 0:
		return []byte(`{"a":19,"i":"` + s.cred.ID + `","g":"4123.`) // truncated
	case 1:
		return []byte(`{"a":9999,"i":"` + s.cred.ID + `"}`) // unknown code
	case 2:
		return []byte(`not json at all`)
	}
	b := make([]byte, 24)
	for i := range b {
		b[i] = byte(s.rng.IntN(256))
	}
	return b
}

// spoof is a GPS fix that claims to come from another vehicle. Caller holds mu.
func (s *scooter) spoof(now time.Time) out {
	victim := protocol.VehicleID("SPOOF0")
	if n := len(s.f.scooters); n > 1 {
		j := s.rng.IntN(n - 1)
		if j >= s.idx {
			j++
		}
		victim = s.f.scooters[j].id
	}
	p := s.position()
	r := &protocol.GPSReport{Header: protocol.Header{From: victim}, Position: protocol.GPS{Lat: p.Lat, Lon: p.Lon}, Time: now.Unix()}
	pkt, err := protocol.EncodeReport(r, protocol.Quirks{})
	if err != nil {
		return out{topic: protocol.TopicNameBike, qos: 1, payload: []byte(`{}`)}
	}
	return out{topic: pkt.Topic, qos: pkt.QoS, payload: pkt.Payload}
}

// snapshot copies the scooter's state. Caller holds mu.
func (s *scooter) snapshot() State {
	p := s.position()
	from, to, _, ok := s.cursor.Edge()
	if !ok {
		from, to = s.cursor.Node(), s.cursor.Node()
	}
	return State{
		ID: s.cred.ID, Connected: s.connected, Powered: s.powered, Paused: s.paused, Walking: s.walking,
		LimitKmh: s.limit, SpeedKmh: s.speed, Lat: p.Lat, Lon: p.Lon, EdgeFrom: from, EdgeTo: to,
		Battery: s.battery, TotalKm: s.totalM / 1000, RideKm: s.rideM / 1000, Firmware: s.firmware,
		Upgrading: s.up.active, OldFirmware: s.old, Buzzes: s.buzzes, GPSInterval: s.gpsInterval,
		Fixes: append([]Fix(nil), s.fixes...), Crossings: append([]Crossing(nil), s.crossings...),
		Commands: append([]CommandRecord(nil), s.commands...),
	}
}

// appendCapped appends v, dropping the oldest elements beyond n.
func appendCapped[T any](s []T, v T, n int) []T {
	if len(s) >= n {
		copy(s, s[len(s)-n+1:])
		s = s[:n-1]
	}
	return append(s, v)
}
