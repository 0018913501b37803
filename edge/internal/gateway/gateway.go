package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/cloudlink"
	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/edge/internal/ridetrack"
	"github.com/fleetedge/fleetedge/edge/internal/rules"
	"github.com/fleetedge/fleetedge/edge/internal/uplink"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/obs"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// DBFile is the bbolt file in the data directory shared by the outbox and
// the configstore (each in its own buckets).
const DBFile = "gateway.db"

// Gateway is the city gateway: embedded MQTT broker with the auth and ingest
// hooks, live fleet state, durable outbox, local configuration and the HTTP
// endpoints. New binds every listener (so addresses are known, ":0" in
// tests); Run serves until its context ends, then shuts down gracefully;
// Close releases everything and is safe to call more than once, with or
// without Run.
//
// Goroutines: Run owns the HTTP server goroutine and the fleet sweeper; both
// stop before Run returns. mochi owns one goroutine per client connection;
// Close (and the end of Run) waits for them.
type Gateway struct {
	cfg Config
	log *slog.Logger

	db       *bolt.DB
	outbox   *outbox.Outbox
	config   *configstore.Store
	fleet    *fleet.Fleet
	commands *command.Manager
	rules    *rules.Engine
	ingest   *broker.Ingest
	broker   *broker.Server
	http     *obs.Server
	health   *obs.Health
	reg      *prometheus.Registry
	vehicles *directory
	zones    atomic.Pointer[zone.Set]
	// ui is the field technicians' web UI; history feeds its vehicle page.
	ui       *fieldui.Server
	history  *fieldui.History
	accounts *fieldui.Accounts
	// rides tracks the open rides and emits ride events (ridetrack.go).
	rides *ridetrack.Tracker

	// nc is the connection to the cloud's NATS (nil when standalone); the
	// uplink drains the outbox over it.
	nc     *nats.Conn
	uplink *uplink.Uplink
	// cloudlink serves the cloud's commands and applies its configuration
	// over nc (nil when standalone).
	cloudlink *cloudlink.Link
	upCancel  context.CancelFunc
	upDone    chan error

	// bg is the context of commands the gateway decides on its own (rules);
	// cancelled at shutdown so unpublished ones are withdrawn.
	bg       context.Context
	bgCancel context.CancelFunc

	running   atomic.Bool
	stopOnce  sync.Once
	stopErr   error
	closeOnce sync.Once
	closeErr  error
}

// New opens the data directory, loads the local configuration (files when
// configured, else what is stored) and binds the MQTT and HTTP listeners.
func New(cfg Config, log *slog.Logger) (g *Gateway, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g = &Gateway{cfg: cfg, log: log.With("component", "gateway"), reg: obs.NewRegistry(), vehicles: &directory{}}
	g.bg, g.bgCancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			err = errors.Join(err, g.Close())
			g = nil
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return g, fmt.Errorf("gateway: data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, DBFile)
	if g.db, err = bolt.Open(path, 0o600, outbox.BoltOptions()); err != nil {
		return g, fmt.Errorf("gateway: open %s: %w", path, err)
	}
	if g.outbox, err = outbox.New(g.db, outbox.Options{
		MaxBytes: cfg.Outbox.MaxBytes, MaxRecords: cfg.Outbox.MaxRecords, MaxEventBytes: cfg.Outbox.MaxEventBytes,
		Logger: log,
	}); err != nil {
		return g, fmt.Errorf("gateway: outbox: %w", err)
	}
	if g.config, err = configstore.New(g.db, configstore.Options{Logger: log}); err != nil {
		return g, fmt.Errorf("gateway: config store: %w", err)
	}
	g.fleet = fleet.New(fleet.Options{LostAfter: cfg.LostAfter.D()})
	if err := g.loadVehicles(); err != nil {
		return g, err
	}
	if err := g.loadZones(); err != nil {
		return g, err
	}
	// The command queue publishes through the broker and stores its events
	// through the ingest; both are built below and bound late (nothing is sent
	// before Run).
	if g.commands, err = command.New(command.Config{
		Publisher: publisherFunc(func(topic string, payload []byte, qos byte) error {
			return g.broker.Publish(topic, payload, qos)
		}),
		Events:     eventSinkFunc(func(ev link.Event) { g.ingest.Emit(ev); g.rides.OnCommandEvent(ev) }),
		Logger:     log,
		Registerer: g.reg,
		KnownVehicle: func(v protocol.VehicleID) bool {
			_, ok := g.vehicles.Vehicle(string(v))
			return ok
		},
	}); err != nil {
		return g, fmt.Errorf("gateway: commands: %w", err)
	}
	if g.rules, err = rules.New(rules.Options{
		Commander: rules.CommanderFunc(func(v protocol.VehicleID, cmd protocol.Command, reason rules.Reason) {
			// Fire and forget: the outcome becomes a command_result event.
			g.commands.Send(g.bg, v, cmd, command.Options{Source: "rule:" + string(reason)})
		}),
		Config: cfg.Rules.rulesConfig(), Logger: log, Registerer: g.reg, Zones: g.zones.Load(),
	}); err != nil {
		return g, fmt.Errorf("%w: rules: %w", ErrConfig, err)
	}
	g.history = fieldui.NewHistory(20, 200_000)
	if err := g.newRides(); err != nil {
		return g, fmt.Errorf("gateway: %w", err)
	}
	if g.ingest, err = broker.NewIngest(broker.IngestOptions{
		Store: eventTap{Store: g.outbox, history: g.history}, Fleet: g.fleet, Logger: log, Registerer: g.reg,
		Rules: g.rides.WrapRules(rules.NewIngest(g.rules, g.vehicles)), Replies: g.commands, Presence: g.commands,
	}); err != nil {
		return g, err
	}
	bcfg := broker.Config{TCPAddr: cfg.MQTT.TCPAddr, TLSAddr: cfg.MQTT.TLSAddr, WSAddr: cfg.MQTT.WSAddr}
	if cfg.MQTT.TLSAddr != "" {
		cert, err := tls.LoadX509KeyPair(cfg.MQTT.TLSCertFile, cfg.MQTT.TLSKeyFile)
		if err != nil {
			return g, fmt.Errorf("gateway: MQTT TLS certificate: %w", err)
		}
		bcfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if g.broker, err = broker.NewServer(bcfg, log.With("component", "mqtt"), broker.NewAuthHook(g.vehicles), g.ingest); err != nil {
		return g, err
	}
	if err := g.newUplink(); err != nil {
		return g, err
	}
	if g.nc != nil {
		if g.cloudlink, err = cloudlink.New(cloudlink.Config{
			City: link.CityID(cfg.City), Conn: g.nc, Commands: g.commands, Store: g.config, Applier: g,
			Workers: cfg.Cloud.CommandWorkers, DefaultWait: cfg.Cloud.CommandWait.D(),
			Logger: log, Registerer: g.reg,
		}); err != nil {
			return g, fmt.Errorf("gateway: %w", err)
		}
	}
	if err := g.registerMetrics(); err != nil {
		return g, err
	}
	g.health = obs.NewHealth(cfg.HTTP.CheckTimeout.D())
	if err := g.health.Add("outbox", func(context.Context) error {
		_, err := g.outbox.Read(^uint64(0)-1, 1) // cheap: fails only when closed or corrupt
		return err
	}); err != nil {
		return g, err
	}
	if err := g.newFieldUI(log); err != nil {
		return g, err
	}
	mux := obs.NewMux(g.reg, g.health, log)
	g.routes(mux)
	g.ui.Routes(mux)
	if g.http, err = obs.Listen(cfg.HTTP.Addr, mux, log); err != nil {
		return g, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// newFieldUI loads the technicians' accounts (file when configured, else the
// stored copy) and builds the UI.
func (g *Gateway) newFieldUI(log *slog.Logger) error {
	c := g.cfg.UI
	var err error
	if g.accounts, err = fieldui.NewAccounts(c.BreakGlassUser, c.BreakGlassHash); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var doc *fieldui.AccountsDoc
	_, fromFile, found, err := loadDoc(g.config, fieldui.DocAccounts, c.AccountsFile, func(b []byte) (uint64, error) {
		d, err := fieldui.ParseAccounts(b)
		doc = d
		if err != nil {
			return 0, err
		}
		return d.Version, nil
	})
	if err != nil {
		return fmt.Errorf("gateway: field UI accounts: %w", err)
	}
	if found {
		if err := g.accounts.Apply(doc); err != nil {
			return fmt.Errorf("gateway: field UI accounts: %w", err)
		}
	}
	if g.accounts.Len() == 0 && c.BreakGlassUser == "" {
		g.log.Warn("no field UI accounts and no break-glass account: nobody can log in to /ui/")
	}
	g.log.Info("field UI accounts loaded", "count", g.accounts.Len(), "from_file", fromFile, "break_glass", c.BreakGlassUser != "")
	lowBattery := c.LowBatteryPct
	if lowBattery == 0 {
		lowBattery = -1 // 0 here means "no alarm", not fieldui's default
	}
	g.ui, err = fieldui.New(fieldui.Config{
		TileURL: c.TileURL, TileAttribution: c.TileAttribution, LowBatteryPct: lowBattery,
		VibrationWindow: c.VibrationWindow.D(), SessionIdle: c.SessionIdle.D(), SessionMaxAge: c.SessionMaxAge.D(),
		SecureCookies: c.SecureCookies, CommandTimeout: c.CommandTimeout.D(),
	}, fieldui.Deps{
		Fleet: g.fleet, Commands: g.commands, Zones: g.zones.Load, Events: g.ingest, Accounts: g.accounts,
		History: g.history, City: g.cfg.City, GatewayID: g.cfg.GatewayID, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// eventTap passes the ingest's records to the outbox and shows every event
// it stored to the field UI's history (a short in-memory append).
type eventTap struct {
	broker.Store
	history *fieldui.History
}

func (t eventTap) Append(ctx context.Context, r outbox.Record) (uint64, error) {
	seq, err := t.Store.Append(ctx, r)
	if err == nil && r.Class == outbox.ClassEvent {
		t.history.ObserveEvent(r.Vehicle, r.Kind, r.Time, r.Payload)
	}
	return seq, err
}

func (t eventTap) AppendAsync(r outbox.Record, done func(seq uint64, err error)) error {
	err := t.Store.AppendAsync(r, done)
	if err == nil && r.Class == outbox.ClassEvent {
		t.history.ObserveEvent(r.Vehicle, r.Kind, r.Time, r.Payload)
	}
	return err
}

// newUplink connects to the cloud's NATS when one is configured. Dial returns
// at once even when the cloud is unreachable: the connection retries forever in
// the background while the outbox keeps filling.
func (g *Gateway) newUplink() error {
	c := g.cfg.Cloud
	if c.NATSURL == "" {
		g.log.Info("no cloud NATS configured: running standalone, the outbox keeps every record")
		return nil
	}
	ulog := g.log.With("component", "uplink")
	var err error
	if g.nc, err = uplink.Dial(uplink.NATSConfig{URL: c.NATSURL, Name: "gateway-" + g.cfg.GatewayID,
		CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, CredsFile: c.CredsFile,
		NkeySeedFile: c.NkeySeedFile, InboxPrefix: link.GatewayInboxPrefix(link.GatewayID(g.cfg.GatewayID))}, ulog); err != nil {
		return fmt.Errorf("gateway: cloud NATS: %w", err)
	}
	cad := c.Cadence
	if g.uplink, err = uplink.New(uplink.Config{
		Gateway: link.GatewayID(g.cfg.GatewayID), City: link.CityID(g.cfg.City),
		Cadence: uplink.Cadence{Position: cad.Position.D(), Speed: cad.Speed.D(), Signal: cad.Signal.D(),
			Battery: cad.Battery.D(), Status: cad.Status.D()},
		Window: c.Window, AckTimeout: c.AckTimeout.D(),
	}, g.outbox, g.nc, ulog); err != nil {
		return fmt.Errorf("gateway: uplink: %w", err)
	}
	return nil
}

func (g *Gateway) loadVehicles() error {
	var table map[string]vehicle
	data, fromFile, found, err := loadDoc(g.config, docVehicles, g.cfg.VehiclesFile, func(b []byte) (uint64, error) {
		doc, t, err := parseVehicles(b, g.cfg.City)
		if err != nil {
			return 0, err
		}
		table = t
		return uint64(doc.Version), nil
	})
	if err != nil {
		return fmt.Errorf("gateway: vehicles: %w", err)
	}
	if !found {
		g.log.Warn("no vehicles configured: no scooter can connect until a vehicles file is given")
		table = map[string]vehicle{}
	}
	g.applyVehicles(table)
	g.log.Info("vehicles loaded", "count", len(table), "from_file", fromFile, "bytes", len(data))
	return nil
}

func (g *Gateway) loadZones() error {
	var set *zone.Set
	_, fromFile, found, err := loadDoc(g.config, docZones, g.cfg.ZonesFile, func(b []byte) (uint64, error) {
		s, err := parseZones(b)
		set = s
		return 0, err
	})
	if err != nil {
		return fmt.Errorf("gateway: zones: %w", err)
	}
	if !found {
		g.log.Warn("no zones configured: zone rules are off until a zones file is given")
		return nil
	}
	g.applyZones(set)
	g.log.Info("zones loaded", "count", set.Len(), "from_file", fromFile)
	return nil
}

func (g *Gateway) registerMetrics() error {
	auth := g.broker.Auth
	authVec := func(result string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fleetedge_broker_auth_total", Help: "MQTT CONNECT authentication decisions, by result.",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(v.Load()) })
	}
	cs := []prometheus.Collector{
		g.outbox.Collector(),
		authVec("accepted", &auth.Stats.Accepted),
		authVec("rejected", &auth.Stats.Rejected),
		authVec("anonymous", &auth.Stats.AnonRejected),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fleetedge_broker_acl_denied_total", Help: "Publishes and subscriptions refused by the ACL.",
		}, func() float64 { return float64(auth.Stats.ACLDenied.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetedge_vehicles_configured", Help: "Vehicles in the local vehicle list.",
		}, func() float64 { return float64(g.vehicles.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetedge_zones", Help: "Zones in the applied geofencing document.",
		}, func() float64 {
			if z := g.zones.Load(); z != nil {
				return float64(z.Len())
			}
			return 0
		}),
	}
	if g.uplink != nil {
		cs = append(cs, g.uplink.Collector())
	}
	for _, s := range []fleet.State{fleet.StateOnline, fleet.StateOffline, fleet.StateLost} {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetedge_vehicles", Help: "Vehicles known to the live state, by connectivity state.",
			ConstLabels: prometheus.Labels{"state": s.String()},
		}, func() float64 { return float64(g.fleet.Count(s)) }))
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fleetedge_gateway_info", Help: "Constant 1, labelled with the gateway's identity.",
		ConstLabels: prometheus.Labels{"city": g.cfg.City, "gateway_id": g.cfg.GatewayID},
	})
	info.Set(1)
	cs = append(cs, info)
	for _, c := range cs {
		if err := g.reg.Register(c); err != nil {
			return fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return nil
}

// Run serves MQTT and HTTP until ctx ends (or HTTP fails), then shuts down
// gracefully: /readyz turns 503, the broker stops accepting and disconnects
// every client (their in-flight publishes finish), the HTTP server drains,
// and the outbox commits what is queued. Call Close afterwards.
func (g *Gateway) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	if err := g.broker.Serve(); err != nil {
		return fmt.Errorf("gateway: mqtt serve: %w", err)
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- g.http.Serve() }()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		g.fleet.RunSweeper(sweepCtx, g.cfg.SweepInterval.D(), func(u fleet.Update) {
			g.ingest.OnFleetUpdate(u, time.Now())
			g.rides.OnFleetUpdate(u, time.Now())
		})
	}()
	// The uplink outlives ctx until stop(): it must drain what the broker's last
	// publishes append. It is not a readiness check: the gateway stays ready
	// while the cloud is unreachable.
	upCtx, upCancel := context.WithCancel(context.WithoutCancel(ctx))
	g.upCancel, g.upDone = upCancel, make(chan error, 1)
	if g.uplink != nil {
		go func() { g.upDone <- g.uplink.Run(upCtx) }()
	} else {
		g.upDone <- nil
	}
	// The cloud link serves commands and applies configuration while ctx
	// lives; it stops (and Run waits for it) before the command manager closes.
	linkCtx, stopLink := context.WithCancel(ctx)
	linkDone := make(chan error, 1)
	if g.cloudlink != nil {
		go func() { linkDone <- g.cloudlink.Run(linkCtx) }()
	} else {
		linkDone <- nil
	}
	g.health.SetReady()
	addrs := g.Addrs()
	g.log.Info("gateway ready", "city", g.cfg.City, "gateway_id", g.cfg.GatewayID,
		"mqtt_tcp", addrs.MQTT["tcp"], "mqtt_tls", addrs.MQTT["tls"], "mqtt_ws", addrs.MQTT["ws"], "http", addrs.HTTP,
		"data", g.outbox.Path())
	var err error
	select {
	case <-ctx.Done():
	case err = <-httpErr:
	}
	stopLink()
	err = errors.Join(err, <-linkDone)
	stopSweep()
	<-swept
	return errors.Join(err, g.stop())
}

// stop is the graceful part of the shutdown, run once.
func (g *Gateway) stop() error {
	g.stopOnce.Do(func() {
		if g.health != nil {
			g.health.SetNotReady("stopping")
		}
		var errs []error
		if g.broker != nil {
			// Closes the listeners and every client, waiting for their goroutines
			// (a publish waiting for the disk completes first).
			errs = append(errs, g.broker.Close())
		}
		if g.rules != nil {
			g.rules.Close() // stops ramp timers
		}
		if g.bgCancel != nil {
			g.bgCancel()
		}
		if g.commands != nil {
			// Ends every open command; their events reach the outbox (still open).
			errs = append(errs, g.commands.Close())
		}
		if g.ingest != nil {
			errs = append(errs, g.ingest.Close())
		}
		if g.upCancel != nil {
			// Everything is in the outbox now; what the uplink has not sent
			// stays there for the next start.
			g.upCancel()
			if err := <-g.upDone; err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("gateway: uplink: %w", err))
			}
		}
		if g.nc != nil {
			g.nc.Close()
		}
		if g.ui != nil {
			// Ends the UI's event streams, which Shutdown would wait for.
			errs = append(errs, g.ui.Close())
		}
		if g.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout.D())
			errs = append(errs, g.http.Shutdown(ctx))
			cancel()
		}
		g.stopErr = errors.Join(errs...)
	})
	return g.stopErr
}

// Close stops serving (if Run did not) and closes the outbox (committing
// everything queued), the config store and the bbolt file.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		errs := []error{g.stop()}
		if g.outbox != nil {
			errs = append(errs, g.outbox.Close())
		}
		if g.config != nil {
			errs = append(errs, g.config.Close())
		}
		if g.db != nil {
			if err := g.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("gateway: close %s: %w", DBFile, err))
			}
		}
		if s := g.outbox; s != nil {
			st := s.Stats()
			g.log.Info("gateway stopped", "outbox_records", st.Records, "outbox_last_seq", st.LastSeq)
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// Addrs are the bound listener addresses.
type Addrs struct {
	MQTT map[string]string // "tcp", "tls", "ws"
	HTTP string
}

// Addrs returns the bound addresses (real ports when configured with ":0").
func (g *Gateway) Addrs() Addrs {
	return Addrs{MQTT: g.broker.Addrs, HTTP: g.http.Addr()}
}

// Fleet returns the live state (for tests and in-process tools).
func (g *Gateway) Fleet() *fleet.Fleet { return g.fleet }

// Outbox returns the outbox (for tests and the cloud uplink).
func (g *Gateway) Outbox() *outbox.Outbox { return g.outbox }

// Registry returns the gateway's Prometheus registry.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// publisherFunc adapts a function to command.Publisher.
type publisherFunc func(topic string, payload []byte, qos byte) error

func (f publisherFunc) Publish(topic string, payload []byte, qos byte) error {
	return f(topic, payload, qos)
}

// eventSinkFunc adapts a function to command.EventSink.
type eventSinkFunc func(ev link.Event)

func (f eventSinkFunc) Emit(ev link.Event) { f(ev) }

// Commands returns the command queue (for the local UI and tests).
func (g *Gateway) Commands() *command.Manager { return g.commands }
