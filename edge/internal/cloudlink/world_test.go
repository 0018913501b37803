package cloudlink

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// gatewayWorld is the gateway's command path, wired like edge/internal/gateway
// does: mochi broker with the auth hook and the real ingest (fleet, durable
// outbox), and a command.Manager publishing through the broker and matching
// the replies the ingest hands it.
type gatewayWorld struct {
	srv      *broker.Server
	commands *command.Manager
	secrets  map[string]string
}

type credMap map[string]devicecred.Digest

func (c credMap) Credential(v string) (devicecred.Digest, bool) { d, ok := c[v]; return d, ok }

func newGatewayWorld(t testing.TB, ids ...string) *gatewayWorld {
	t.Helper()
	creds, secrets := credMap{}, map[string]string{}
	vids := make([]protocol.VehicleID, 0, len(ids))
	for _, id := range ids {
		s, hash, err := devicecred.Generate()
		if err != nil {
			t.Fatal(err)
		}
		d, err := devicecred.Parse(hash)
		if err != nil {
			t.Fatal(err)
		}
		creds[id], secrets[id] = d, s
		vids = append(vids, protocol.VehicleID(id))
	}
	log := testLogger()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "gateway.db"), 0o600, outbox.BoltOptions())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(db, outbox.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	fl := fleet.New(fleet.Options{})
	fl.Register(time.Now(), vids...)
	w := &gatewayWorld{secrets: secrets}
	var ing *broker.Ingest
	w.commands, err = command.New(command.Config{
		Publisher: publisherFunc(func(topic string, payload []byte, qos byte) error { return w.srv.Publish(topic, payload, qos) }),
		Events:    sinkFunc(func(ev link.Event) { ing.Emit(ev) }),
		Logger:    log,
		KnownVehicle: func(v protocol.VehicleID) bool {
			_, ok := creds[string(v)]
			return ok
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ing, err = broker.NewIngest(broker.IngestOptions{Store: ob, Fleet: fl, Logger: log,
		Replies: w.commands, Presence: w.commands}); err != nil {
		t.Fatal(err)
	}
	if w.srv, err = broker.NewServer(broker.Config{TCPAddr: "127.0.0.1:0"}, log, broker.NewAuthHook(creds), ing); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The gateway's shutdown order.
		for _, c := range []func() error{w.srv.Close, w.commands.Close, ing.Close, ob.Close, db.Close} {
			if err := c(); err != nil {
				t.Error(err)
			}
		}
	})
	return w
}

type publisherFunc func(topic string, payload []byte, qos byte) error

func (f publisherFunc) Publish(topic string, payload []byte, qos byte) error {
	return f(topic, payload, qos)
}

type sinkFunc func(ev link.Event)

func (f sinkFunc) Emit(ev link.Event) { f(ev) }

// scooter connects a paho client as vehicle id that answers every command
// through respond (on paho's goroutine) and waits until the gateway sees it
// online (subscribed to its own topic).
func (w *gatewayWorld) scooter(t testing.TB, id string, respond func(c paho.Client, cmd protocol.Command)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + w.srv.Addrs["tcp"]).SetClientID(id).
		SetUsername(id).SetPassword(w.secrets[id]).SetAutoReconnect(false).SetProtocolVersion(4).
		SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	if tok := c.Subscribe(id, 1, func(c paho.Client, m paho.Message) {
		cmd, err := protocol.DecodeCommand(m.Payload())
		if err != nil {
			t.Errorf("%s: undecodable command %s: %v", id, m.Payload(), err)
			return
		}
		respond(c, cmd)
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s subscribe: %v", id, tok.Error())
	}
	waitFor(t, id+" online", func() bool { return w.commands.Stats().Vehicles > 0 })
	return c
}

// reply publishes r from the scooter without waiting (we are on paho's goroutine).
func reply(t testing.TB, c paho.Client, r protocol.Report) {
	pkt, err := protocol.EncodeReport(r, protocol.Quirks{})
	if err != nil {
		t.Errorf("encode %T: %v", r, err)
		return
	}
	c.Publish(pkt.Topic, pkt.QoS, false, pkt.Payload)
}

// acker answers power on with success and power off with a failure status.
func acker(t testing.TB, id string) func(c paho.Client, cmd protocol.Command) {
	var mu sync.Mutex
	return func(c paho.Client, cmd protocol.Command) {
		mu.Lock()
		defer mu.Unlock()
		h := protocol.Header{From: protocol.VehicleID(id)}
		switch cmd.(type) {
		case *protocol.PowerOn:
			reply(t, c, &protocol.PowerOnReply{Header: h, OpResult: protocol.OpResult{Nonce: 1}})
		case *protocol.PowerOff:
			reply(t, c, &protocol.PowerOffReply{Header: h, OpResult: protocol.OpResult{Nonce: 2, Status: 1}})
		}
	}
}
