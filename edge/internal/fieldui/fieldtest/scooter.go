package fieldtest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetedge/fleetedge/protocol"
)

// Scooters is a set of simulated scooters connected to one broker. Each has
// a paho client (its own goroutines) and one reporting goroutine; Close stops
// them all. Each scooter's state is guarded by its own mutex.
type Scooters struct {
	list []*Scooter
	stop chan struct{}
	wg   sync.WaitGroup
}

// Scooter is one simulated scooter.
type Scooter struct {
	ID string
	c  mqtt.Client

	mu       sync.Mutex
	lat, lon float64
	battery  int
	powered  bool
	fallen   bool
	commands []int
}

// Connect starts a scooter per credential against the broker at addr
// (host:port): each reports a GPS fix (19) and a heartbeat (27) every
// interval and answers commands. It returns once all are subscribed.
func Connect(addr string, creds []Credential, interval time.Duration) (*Scooters, error) {
	s := &Scooters{stop: make(chan struct{})}
	for i, cr := range creds {
		sc := &Scooter{ID: cr.ID, lat: cr.Lat, lon: cr.Lon, battery: 90 - 7*i%60}
		opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(cr.ID).SetUsername(cr.ID).
			SetPassword(cr.Secret).SetCleanSession(true).SetAutoReconnect(true).SetConnectTimeout(10 * time.Second)
		opts.SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(cr.ID, 1, func(_ mqtt.Client, m mqtt.Message) { sc.onCommand(m.Payload()) })
		})
		sc.c = mqtt.NewClient(opts)
		if t := sc.c.Connect(); !t.WaitTimeout(15*time.Second) || t.Error() != nil {
			return nil, errors.Join(fmt.Errorf("fieldtest: connect %s: %v", cr.ID, t.Error()), s.Close())
		}
		s.list = append(s.list, sc)
	}
	for _, sc := range s.list {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				sc.report()
				select {
				case <-s.stop:
					return
				case <-t.C:
				}
			}
		}()
	}
	return s, nil
}

// Get returns the scooter with number id.
func (s *Scooters) Get(id string) (*Scooter, bool) {
	for _, sc := range s.list {
		if sc.ID == id {
			return sc, true
		}
	}
	return nil, false
}

// Close stops the reports and disconnects every scooter.
func (s *Scooters) Close() error {
	close(s.stop)
	s.wg.Wait()
	for _, sc := range s.list {
		sc.c.Disconnect(100)
	}
	return nil
}

// SetFallen powers the scooter on (posture only counts while powered) and
// reports it fallen (or upright) from the next heartbeat on.
func (sc *Scooter) SetFallen(fallen bool) {
	sc.mu.Lock()
	sc.fallen, sc.powered = fallen, sc.powered || fallen
	sc.mu.Unlock()
	sc.report()
}

// Commands returns the codes of the commands received so far.
func (sc *Scooter) Commands() []int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]int(nil), sc.commands...)
}

func (sc *Scooter) publish(r protocol.Report, err error) {
	if err != nil {
		return // our own field maps: cannot fail
	}
	p, err := protocol.EncodeReport(r, protocol.Quirks{})
	if err != nil {
		return
	}
	sc.c.Publish(p.Topic, p.QoS, false, p.Payload).WaitTimeout(5 * time.Second)
}

func (sc *Scooter) report() {
	sc.mu.Lock()
	g, _ := protocol.FormatGPS(protocol.GPS{Lat: sc.lat, Lon: sc.lon})
	power, posture := 1, 0
	if sc.powered {
		power = 0
	}
	if sc.fallen {
		posture = 1
	}
	bat := sc.battery
	sc.mu.Unlock()
	v := protocol.VehicleID(sc.ID)
	sc.publish(protocol.NewReport(protocol.CodeGPSReport, v, map[string]any{"g": g, "t": time.Now().Unix()}))
	sc.publish(protocol.NewReport(protocol.CodeHeartbeat, v, map[string]any{"b": bat, "c": power, "s": posture, "r": 38.5, "v": 25, "x": 3}))
}

// onCommand records the command and sends its documented reply (s=0).
func (sc *Scooter) onCommand(payload []byte) {
	cmd, err := protocol.DecodeCommand(payload)
	if err != nil {
		return
	}
	code := cmd.Code()
	sc.mu.Lock()
	sc.commands = append(sc.commands, int(code))
	bat, powered := sc.battery, sc.powered
	sc.mu.Unlock()
	reply, ok := protocol.ExpectedReply(code)
	if !ok {
		return // 20, 28, 58, 93 have no reply
	}
	v := protocol.VehicleID(sc.ID)
	power := 1
	if powered {
		power = 0
	}
	var fields map[string]any
	switch reply {
	case protocol.CodeGPSReport:
		sc.report()
		return
	case protocol.CodeVehicleParams:
		fields = map[string]any{"s": 0, "k": 25, "p": 0, "e": 0, "b": bat, "y": 3600, "q": 120, "w": 0, "z": 0, "c": power}
	case protocol.CodeVersionReply:
		fields = map[string]any{"h": "HW1.2", "f": "FW3.4.5", "c": "8934000000000000000", "m": "861234567890123", "s": power, "t": 42}
	case protocol.CodeSignalReply:
		fields = map[string]any{"x": 23}
	case protocol.CodeFirmwarePackageReply:
		// Takes every package; the result (69) is left to the test (Finish).
		fields = map[string]any{"x": cmd.(*protocol.FirmwarePackage).Serial, "s": 0}
	default:
		fields = map[string]any{"s": 0, "t": 42}
	}
	r, err := protocol.NewReport(reply, v, fields)
	if err != nil {
		// A reply without t or s: send only what its message has.
		r, err = protocol.NewReport(reply, v, map[string]any{"s": 0})
	}
	sc.publish(r, err)
}
