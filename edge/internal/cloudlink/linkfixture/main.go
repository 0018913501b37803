// Command linkfixture is a test fixture, not shipped: a minimal city gateway
// (mochi broker with the auth and ingest hooks, durable outbox, configstore,
// command manager and the cloud link) plus one in-process scooter that acks
// power on (1) and refuses power off (3). Tests of the cloud module
// (cloud/internal/downlink) build and run it to drive the real gateway side
// across the module boundary, including SIGKILL and restart.
//
// It prints one line per fact on stdout: "stored <kind> <version>" for what the
// configstore held at start, "ready" once the scooter is online and the link
// runs, "applied <kind> <version> <zones>" for every document put in force.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/cloudlink"
	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/edge/internal/uplink"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "linkfixture:", err)
		os.Exit(1)
	}
}

type creds map[string]devicecred.Digest

func (c creds) Credential(v string) (devicecred.Digest, bool) { d, ok := c[v]; return d, ok }

type publisher func(topic string, payload []byte, qos byte) error

func (f publisher) Publish(topic string, payload []byte, qos byte) error {
	return f(topic, payload, qos)
}

type sink func(ev link.Event)

func (f sink) Emit(ev link.Event) { f(ev) }

// printer is the fixture's Applier: it reports what it puts in force.
type printer struct{ mu sync.Mutex }

func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Printf(format+"\n", args...)
}

func (p *printer) PrepareConfig(u cloudlink.Update) (func(), error) {
	return func() {
		zones := 0
		if u.Zones != nil {
			zones = u.Zones.Len()
		}
		p.line("applied %s %d %d", u.Kind, u.Version, zones)
	}, nil
}

func run() error {
	natsURL := flag.String("nats", "", "cloud NATS URL")
	city := flag.String("city", "testcity", "city id")
	data := flag.String("data", "", "data directory")
	vehicle := flag.String("vehicle", "861123456789012", "the scooter's vehicle number")
	seedFile := flag.String("nkey-seed", "", "nkey seed file: connect as a gateway of the cloud's roster")
	inbox := flag.String("inbox-prefix", "", "reply inbox prefix (the roster's per-gateway namespace)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out := &printer{}

	db, err := bolt.Open(filepath.Join(*data, "gateway.db"), 0o600, outbox.BoltOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	ob, err := outbox.New(db, outbox.Options{Logger: log})
	if err != nil {
		return err
	}
	defer ob.Close()
	store, err := configstore.New(db, configstore.Options{Logger: log})
	if err != nil {
		return err
	}
	for _, kind := range []string{link.ConfigZones, link.ConfigVehicles, link.ConfigTariffs} {
		if d, err := store.Get(kind); err == nil {
			out.line("stored %s %d", kind, d.Version)
		} else if !errors.Is(err, configstore.ErrNotFound) {
			return err
		}
	}

	secret, hash, err := devicecred.Generate()
	if err != nil {
		return err
	}
	digest, err := devicecred.Parse(hash)
	if err != nil {
		return err
	}
	cr := creds{*vehicle: digest}
	fl := fleet.New(fleet.Options{})
	fl.Register(time.Now(), protocol.VehicleID(*vehicle))
	var (
		srv *broker.Server
		ing *broker.Ingest
	)
	commands, err := command.New(command.Config{
		Publisher: publisher(func(t string, p []byte, q byte) error { return srv.Publish(t, p, q) }),
		Events:    sink(func(ev link.Event) { ing.Emit(ev) }),
		Logger:    log,
		KnownVehicle: func(v protocol.VehicleID) bool {
			_, ok := cr[string(v)]
			return ok
		},
	})
	if err != nil {
		return err
	}
	if ing, err = broker.NewIngest(broker.IngestOptions{Store: ob, Fleet: fl, Logger: log, Replies: commands, Presence: commands}); err != nil {
		return err
	}
	if srv, err = broker.NewServer(broker.Config{TCPAddr: "127.0.0.1:0"}, log, broker.NewAuthHook(cr), ing); err != nil {
		return err
	}
	if err := srv.Serve(); err != nil {
		return err
	}
	defer func() { _ = srv.Close(); _ = commands.Close(); _ = ing.Close() }()

	var nc *nats.Conn
	if *seedFile == "" {
		nc, err = uplink.Dial(uplink.NATSConfig{URL: *natsURL, Name: "linkfixture",
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}, log)
	} else {
		// What a gateway under the cloud's gateway permissions needs on top of
		// uplink.Dial's options: its nkey and its own inbox namespace.
		var auth nats.Option
		if auth, err = nats.NkeyOptionFromSeed(*seedFile); err != nil {
			return err
		}
		nc, err = nats.Connect(*natsURL, auth, nats.CustomInboxPrefix(*inbox), nats.MaxReconnects(-1),
			nats.RetryOnFailedConnect(true), nats.ReconnectWait(20*time.Millisecond),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { fmt.Fprintln(os.Stderr, "nats:", err) }))
	}
	if err != nil {
		return err
	}
	defer nc.Close()
	l, err := cloudlink.New(cloudlink.Config{City: link.CityID(*city), Conn: nc, Commands: commands, Store: store,
		Applier: out, Logger: log, WatchRetryMin: 20 * time.Millisecond, WatchRetryMax: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	o := paho.NewClientOptions().AddBroker("tcp://" + srv.Addrs["tcp"]).SetClientID(*vehicle).
		SetUsername(*vehicle).SetPassword(secret).SetAutoReconnect(false).SetProtocolVersion(4)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("scooter connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	h := protocol.Header{From: protocol.VehicleID(*vehicle)}
	if tok := c.Subscribe(*vehicle, 1, func(c paho.Client, m paho.Message) {
		cmd, err := protocol.DecodeCommand(m.Payload())
		if err != nil {
			return
		}
		var r protocol.Report
		switch cmd.(type) {
		case *protocol.PowerOn:
			r = &protocol.PowerOnReply{Header: h, OpResult: protocol.OpResult{Nonce: 1}}
		case *protocol.PowerOff:
			r = &protocol.PowerOffReply{Header: h, OpResult: protocol.OpResult{Nonce: 2, Status: 1}}
		default:
			return
		}
		if pkt, err := protocol.EncodeReport(r, protocol.Quirks{}); err == nil {
			c.Publish(pkt.Topic, pkt.QoS, false, pkt.Payload)
		}
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("scooter subscribe: %v", tok.Error())
	}
	for commands.Stats().Vehicles == 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
	out.line("ready")
	return <-done
}
