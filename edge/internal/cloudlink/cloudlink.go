package cloudlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

var (
	// ErrConfig is wrapped by every configuration error of New.
	ErrConfig = errors.New("cloudlink: invalid configuration")
	// ErrMalformed is wrapped in the error of a rejected request that did not
	// decode or failed link.CommandRequest.Validate.
	ErrMalformed = errors.New("malformed command request")
	// ErrBusy is the error of a request rejected because every worker was busy
	// and the queue was full.
	ErrBusy = errors.New("gateway busy: command queue full")
	// ErrInvalidDocument wraps every reason a configuration document was refused
	// before the version check (decode, Validate, city, zone.Load, the Applier).
	ErrInvalidDocument = errors.New("invalid configuration document")
	// ErrWrongCity means a document names another city than the gateway's.
	ErrWrongCity = errors.New("configuration document for another city")
	// ErrDeleted means a configuration key was deleted or purged in the cloud;
	// the gateway keeps the last document it had.
	ErrDeleted = errors.New("configuration key deleted in the cloud")
)

// CommandHandler runs one command request from the cloud and returns the
// result to answer with (command.Manager implements it).
type CommandHandler interface {
	HandleRequest(ctx context.Context, req link.CommandRequest) link.CommandResult
}

// Update is one validated configuration document about to be applied.
type Update struct {
	Kind    string // link.ConfigZones, link.ConfigVehicles, link.ConfigTariffs or link.ConfigTechnicians
	Version int64  // the document's version (also the configstore version)
	// Stored is what is persisted under configstore name Kind, the form the
	// gateway loads at start: the GBFS geofencing document for zones, the
	// KV value (document JSON) for vehicles and tariffs.
	Stored []byte
	// Exactly the one matching Kind is set.
	Zones       *zone.Set
	Vehicles    *link.VehiclesDoc
	Tariffs     *link.TariffsDoc
	Technicians *link.TechniciansDoc
}

// Applier is the gateway's apply path. PrepareConfig makes every check the
// gateway makes when it loads the document and changes nothing; the returned
// install function puts it in force atomically and cannot fail. An error
// leaves the current configuration in force.
type Applier interface {
	PrepareConfig(u Update) (install func(), err error)
}

// Defaults.
const (
	DefaultWorkers       = 64
	DefaultQueue         = 1024
	DefaultWait          = 60 * time.Second
	DefaultReplyGrace    = time.Second
	DefaultWatchRetryMin = 500 * time.Millisecond
	DefaultWatchRetryMax = 30 * time.Second
	DefaultQueueGroup    = "gateway"
)

// Config configures a Link. City, Conn, Commands, Store and Applier are
// required; zero values of the rest take the defaults above.
type Config struct {
	City link.CityID
	// Conn is the gateway's connection to the cloud (uplink.Dial), shared with
	// the uplink. The Link never closes it.
	Conn *nats.Conn
	// Commands handles command requests (command.Manager).
	Commands CommandHandler
	// Store is the gateway's local configuration copy.
	Store *configstore.Store
	// Applier puts configuration in force (the gateway).
	Applier Applier
	// ZoneOptions must be the options the gateway loads its stored zones with.
	ZoneOptions zone.Options

	// Workers handle requests concurrently; each waits for its scooter's reply,
	// so this bounds the commands from the cloud in flight.
	Workers int
	// Queue holds requests waiting for a worker; beyond it they are rejected
	// (ErrBusy). Negative: no queue, a request needs an idle worker.
	Queue int
	// QueueGroup of the command subscription.
	QueueGroup string
	// DefaultWait bounds the wait for the outcome of a request without
	// timeout_ms; ReplyGrace is added to a request's timeout_ms (the command
	// manager's own timeout then decides, not this bound).
	DefaultWait time.Duration
	ReplyGrace  time.Duration
	// WatchRetryMin and WatchRetryMax bound the backoff (with jitter) between
	// attempts to watch the bucket (not created yet, connection trouble).
	WatchRetryMin, WatchRetryMax time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics not registered (Stats still works)
}

func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	switch {
	case c.Queue == 0:
		c.Queue = DefaultQueue
	case c.Queue < 0:
		c.Queue = 0
	}
	if c.QueueGroup == "" {
		c.QueueGroup = DefaultQueueGroup
	}
	if c.DefaultWait == 0 {
		c.DefaultWait = DefaultWait
	}
	if c.ReplyGrace == 0 {
		c.ReplyGrace = DefaultReplyGrace
	}
	if c.WatchRetryMin == 0 {
		c.WatchRetryMin = DefaultWatchRetryMin
	}
	if c.WatchRetryMax == 0 {
		c.WatchRetryMax = DefaultWatchRetryMax
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if _, err := link.ParseCityID(string(c.City)); err != nil {
		bad("city: %v", err)
	}
	if c.Conn == nil {
		bad("no NATS connection")
	}
	if c.Commands == nil {
		bad("no command handler")
	}
	if c.Store == nil {
		bad("no config store")
	}
	if c.Applier == nil {
		bad("no applier")
	}
	if c.Workers < 1 || c.Workers > 100_000 {
		bad("workers %d outside 1-100000", c.Workers)
	}
	if c.Queue > 1_000_000 {
		bad("queue %d above 1000000", c.Queue)
	}
	if c.DefaultWait < 0 || c.ReplyGrace < 0 {
		bad("negative wait")
	}
	if c.WatchRetryMin <= 0 || c.WatchRetryMax < c.WatchRetryMin {
		bad("watch retry bounds %v..%v", c.WatchRetryMin, c.WatchRetryMax)
	}
	return errors.Join(errs...)
}

// Link serves the cloud's command requests and applies the city's
// configuration from JetStream KV. See the package documentation.
type Link struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	subject string
	bucket  string
	jobs    chan *nats.Msg

	running atomic.Bool

	mu sync.Mutex // guards st
	st Stats
}

// New checks the configuration and builds a Link; Run starts it.
func New(cfg Config) (*Link, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("cloudlink: jetstream: %w", err)
	}
	l := &Link{
		cfg: cfg, nc: cfg.Conn, js: js, log: cfg.Logger.With("component", "cloudlink"),
		subject: link.CommandSubject(cfg.City), bucket: link.ConfigBucket(cfg.City),
		jobs: make(chan *nats.Msg, cfg.Queue),
		st: Stats{
			Requests: map[link.Outcome]uint64{}, Applied: map[string]uint64{},
			Rejected: map[RejectKey]uint64{}, Versions: map[string]int64{},
		},
	}
	// What the gateway loaded from the store at start is what is in force.
	for _, kind := range kinds {
		if d, err := cfg.Store.Get(kind); err == nil {
			l.st.Versions[kind] = int64(d.Version)
		}
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(collector{l}); err != nil {
			return nil, fmt.Errorf("cloudlink: register metrics: %w", err)
		}
	}
	return l, nil
}

// Run serves command requests and watches the configuration until ctx ends.
// It works whether or not the connection is up (the subscription is sent
// when it comes up). It returns after every goroutine it started stopped.
func (l *Link) Run(ctx context.Context) error {
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("cloudlink: Run called twice")
	}
	status := l.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer l.nc.RemoveStatusListener(status)
	sub, err := l.nc.QueueSubscribe(l.subject, l.cfg.QueueGroup, l.onRequest)
	if err != nil {
		return fmt.Errorf("cloudlink: subscribe %s: %w", l.subject, err)
	}
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Go(func() { l.worker(ctx) })
	}
	wg.Go(func() { l.watchLoop(ctx, status) })
	l.log.Info("cloud link running", "city", l.cfg.City, "subject", l.subject, "bucket", l.bucket,
		"workers", l.cfg.Workers, "connected", l.nc.IsConnected())
	<-ctx.Done()
	var uerr error
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		uerr = fmt.Errorf("cloudlink: unsubscribe: %w", err)
	}
	wg.Wait()
	return uerr
}

// sleep waits d or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
