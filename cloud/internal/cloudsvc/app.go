package cloudsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/eventstore"
	"github.com/fleetedge/fleetedge/cloud/internal/ingest"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/obs"
)

// ErrNotStarted is reported by a readiness check whose component has not started (yet).
var ErrNotStarted = errors.New("not started")

// App is one cloud process. See the package documentation for its lifecycle.
type App struct {
	cfg    Config
	log    *slog.Logger
	reg    *prometheus.Registry
	health *obs.Health
	http   *obs.Server

	// Set by Run's goroutine during startup, read by readiness checks on HTTP goroutines.
	pg   atomic.Pointer[pgxpool.Pool]
	ch   atomic.Pointer[chstore.Store]
	bus  atomic.Pointer[natsbus.Bus]
	down atomic.Pointer[downlink.Downlink]

	// live is the latest state of every vehicle, fed by the ingest consumer,
	// for the APIs (no ClickHouse query for "where is it now").
	live *livestate.Fleet
	// rider is the rider API, built once PostgreSQL is connected (roles all/api);
	// purgeCancel/purgeDone stop its session purge.
	rider       atomic.Pointer[riderapi.API]
	admin       atomic.Pointer[adminapi.API]
	purgeCancel context.CancelFunc
	purgeDone   chan struct{}
	// ingestCancel/ingestDone stop and await the FLEET_UP consumer (role ingest).
	ingestCancel context.CancelFunc
	ingestDone   chan error
	// eventHooks are the areas' reactions to stored event batches (areas.go); background
	// runs their tasks.
	eventHooks []EventHook
	background

	started  chan struct{} // closed once every component of the role runs
	ran      atomic.Bool
	stopOnce sync.Once
	served   chan error // result of the HTTP serve goroutine; nil until Run starts it
}

// New validates cfg, builds the registry and health state, and binds the HTTP listener.
// Nothing else starts before Run.
func New(cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{
		cfg:     cfg,
		log:     log,
		reg:     obs.NewRegistry(),
		health:  obs.NewHealth(cfg.HTTP.CheckTimeout.D()),
		started: make(chan struct{}),
		live:    livestate.New(),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fleetedge_cloud_info", Help: "Always 1; the role label says which components run.",
	}, []string{"role"})
	info.WithLabelValues(string(cfg.Role)).Set(1)
	if err := a.reg.Register(info); err != nil {
		return nil, fmt.Errorf("cloud: metrics: %w", err)
	}
	err := errors.Join(
		a.health.Add("postgres", a.checkPostgres),
		a.health.Add("clickhouse", a.checkClickHouse),
	)
	if cfg.usesNATS() {
		err = errors.Join(err, a.health.Add("nats", a.checkNATS))
	}
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	mux := obs.NewMux(a.reg, a.health, log.With("component", "http"))
	if cfg.Role.HasAPI() {
		mux.Handle("/v1/", a.riderHandler())
		mux.Handle(adminapi.Prefix+"/", a.adminHandler())
	}
	handler, err := obs.InstrumentHTTP(a.reg, mux)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	srv, err := obs.Listen(cfg.HTTP.Addr, handler, log.With("component", "http"))
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	a.http = srv
	return a, nil
}

// HTTPAddr is the bound HTTP address (real port when configured ":0").
func (a *App) HTTPAddr() string { return a.http.Addr() }

// Started is closed when every component of the role runs and /readyz may turn ready.
func (a *App) Started() <-chan struct{} { return a.started }

// NATSURL is the URL gateways use (embedded listener or external URL, secrets redacted); ""
// before NATS started or in role api.
func (a *App) NATSURL() string {
	if b := a.bus.Load(); b != nil {
		return b.ClientURL()
	}
	return ""
}

// Downlink sends commands to the cities' gateways and publishes their
// configuration; nil before NATS started, and in role api without an external NATS URL.
func (a *App) Downlink() *downlink.Downlink { return a.down.Load() }

// ReloadGatewayRoster re-reads the gateways roster file of the embedded NATS server (cmd/cloud
// calls it on SIGHUP): added gateways may connect at once, removed ones are disconnected. On
// error the running roster stays.
func (a *App) ReloadGatewayRoster() error {
	b := a.bus.Load()
	if b == nil {
		return fmt.Errorf("cloud: reload roster: %w", ErrNotStarted)
	}
	return b.ReloadRoster()
}

// Live is the latest state of every vehicle seen by this process's ingest consumer.
func (a *App) Live() *livestate.Fleet { return a.live }

// Registry is the process's Prometheus registry, for components added by later issues.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Run starts the components, serves until ctx ends (or the HTTP server fails), then shuts
// down gracefully. It returns the startup or serving error joined with any shutdown error;
// a shutdown requested through ctx is not an error. Run may be called once.
func (a *App) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("cloud: Run called twice")
	}
	a.served = make(chan error, 1)
	go func() { a.served <- a.http.Serve() }() // ends when stop shuts the server down

	a.log.Info("cloud starting", "role", a.cfg.Role, "http", a.HTTPAddr(), "config", a.cfg)
	begin := time.Now()
	var runErr error
	if runErr = a.start(ctx); runErr != nil && ctx.Err() != nil {
		// Asked to stop while starting (a signal during migrations): not a failure.
		a.log.Info("cloud startup interrupted", "reason", context.Cause(ctx), "step_err", runErr)
		runErr = nil
	} else if runErr == nil {
		a.health.SetReady()
		close(a.started)
		a.log.Info("cloud started", "role", a.cfg.Role, "http", a.HTTPAddr(), "nats", a.NATSURL(),
			"startup_ms", time.Since(begin).Milliseconds())
		select {
		case <-ctx.Done():
			a.log.Info("cloud stopping", "reason", context.Cause(ctx))
		case err := <-a.served:
			a.served <- err // stop reads it again
			runErr = fmt.Errorf("cloud: http server stopped: %w", err)
			a.log.Info("cloud stopping", "reason", "http server failed") // the error is returned, logged by the caller
		}
	}
	return errors.Join(runErr, a.stop(context.WithoutCancel(ctx)))
}

// Close releases everything still held; after Run returned it is a no-op returning nil (Run
// already returned any shutdown error). Safe to call more than once, but not while Run runs:
// cancel Run's context to stop it.
func (a *App) Close() error { return a.stop(context.Background()) }

// start opens the components of the role in dependence order, bounded by startup_timeout.
func (a *App) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StartupTimeout.D())
	defer cancel()

	if a.cfg.Postgres.Migrate {
		log := a.log.With("component", "pgstore")
		if err := a.retry(ctx, "postgres migrate", func(ctx context.Context) error {
			return pgstore.Migrate(ctx, a.cfg.Postgres.MigratorDSN.Reveal(), log)
		}); err != nil {
			return err
		}
	}
	if err := a.retry(ctx, "postgres connect", func(ctx context.Context) error {
		pool, err := pgstore.Connect(ctx, a.cfg.Postgres.DSN.Reveal())
		if err == nil {
			a.pg.Store(pool)
		}
		return err
	}); err != nil {
		return err
	}

	// The APIs and their areas are built in every role: role api serves them; role ingest
	// runs their event hooks (ride billing from gateway events, firmware job progress) and
	// background tasks without serving HTTP (nothing is mounted for it).
	if err := a.startAPIs(ctx); err != nil {
		return err
	}

	if err := a.retry(ctx, "clickhouse open", func(ctx context.Context) error {
		st, err := chstore.Open(ctx, a.cfg.ClickHouse.DSN.Reveal(), chstore.WithLogger(a.log))
		if err == nil {
			a.ch.Store(st)
		}
		return err
	}); err != nil {
		return err
	}
	if a.cfg.ClickHouse.Migrate {
		if err := a.retry(ctx, "clickhouse migrate", a.ch.Load().Migrate); err != nil {
			return err
		}
	}

	if a.cfg.usesNATS() {
		if err := a.retry(ctx, "nats", func(ctx context.Context) error {
			bus, err := natsbus.Open(ctx, a.cfg.Bus(), a.log.With("component", "natsbus"))
			if err == nil {
				a.bus.Store(bus)
			}
			return err
		}); err != nil {
			return err
		}
		bus := a.bus.Load()
		if err := a.reg.Register(bus.Collector()); err != nil {
			return fmt.Errorf("cloud: nats metrics: %w", err)
		}
		dl, err := downlink.New(bus.Conn(), bus.JetStream(), downlink.Config{Logger: a.log.With("component", "downlink"), Registerer: a.reg})
		if err != nil {
			return fmt.Errorf("cloud: downlink: %w", err)
		}
		a.down.Store(dl)
		if a.cfg.Role.HasIngest() {
			if err := a.startIngest(bus); err != nil {
				return err
			}
		} else {
			a.startFollow(bus)
		}
	}
	return nil
}

// startIngest runs the FLEET_UP consumer: telemetry and events to ClickHouse, events
// also to PostgreSQL (vehicle_events),
// acknowledged only after the write. It has its own context: it stops in
// stop(), before the bus, so it can flush what it holds.
func (a *App) startIngest(bus *natsbus.Bus) error {
	cfg := ingest.Config{
		// Events also go to PostgreSQL, committed before the ack (idempotent on (gateway, seq)).
		OnEvents: func(ctx context.Context, city link.CityID, gw link.GatewayID, events []link.Event) error {
			if err := eventstore.Insert(ctx, a.pg.Load(), city, gw, events); err != nil {
				return err
			}
			return a.runEventHooks(ctx, city, gw, events)
		},
	}
	in, err := ingest.New(cfg, bus.JetStream(), a.ch.Load(), a.live, a.log.With("component", "ingest"))
	if err != nil {
		return fmt.Errorf("cloud: ingest: %w", err)
	}
	if err := a.reg.Register(in.Collector()); err != nil {
		return fmt.Errorf("cloud: ingest metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.ingestCancel, a.ingestDone = cancel, make(chan error, 1)
	go func() { a.ingestDone <- in.Run(ctx) }()
	return nil
}

// followSince is how far back a replica without ingest reads the up stream at start for the
// live state: longer than a gateway's default "lost" silence (20 min).
const followSince = 30 * time.Minute

// startFollow keeps the live state of a replica without ingest (role api with NATS) from the
// up stream; it stops in stop(), like the ingest.
func (a *App) startFollow(bus *natsbus.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	a.ingestCancel, a.ingestDone = cancel, make(chan error, 1)
	go func() {
		a.ingestDone <- ingest.Follow(ctx, bus.JetStream(), a.live, followSince, a.log.With("component", "livefeed"))
	}()
}

// retry runs fn until it succeeds, fails permanently, or ctx ends; dependencies that are still
// starting (connection refused, database starting up) get a backoff of 0.25 s doubling to 5 s.
func (a *App) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if permanent(err) || ctx.Err() != nil {
			return fmt.Errorf("cloud: %s: %w", what, err)
		}
		a.log.Warn("dependency not ready, retrying", "step", what, "attempt", attempt, "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cloud: %s: gave up after %d attempts (%v): %w", what, attempt, context.Cause(ctx), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// permanent reports errors that waiting cannot fix: bad DSNs, refused roles, a schema newer
// than the binary, bad NATS settings, an embedded server that cannot start (port in use).
func permanent(err error) bool {
	var parseErr *pgconn.ParseConfigError
	return errors.As(err, &parseErr) ||
		errors.Is(err, pgstore.ErrSuperuser) ||
		errors.Is(err, chstore.ErrInvalidDSN) ||
		errors.Is(err, chstore.ErrSchemaTooNew) ||
		errors.Is(err, natsbus.ErrConfig) ||
		errors.Is(err, natsbus.ErrEmbeddedStart)
}

// stop shuts down in the documented order, once. parent only carries values; its cancellation
// is ignored so a cancelled Run still shuts down gracefully within shutdown_timeout.
func (a *App) stop(parent context.Context) error {
	var stopErr error
	a.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), a.cfg.ShutdownTimeout.D())
		defer cancel()
		var errs []error

		// 1. Tell load balancers, then give them time to notice.
		a.health.SetNotReady("stopping")
		if d := a.cfg.DrainDelay.D(); d > 0 && a.ran.Load() {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		// 2. HTTP: in-flight requests finish while their databases are still open.
		if err := a.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cloud: %w", err))
		}
		if a.served != nil {
			if err := <-a.served; err != nil {
				errs = append(errs, fmt.Errorf("cloud: %w", err))
			}
		}
		// 3. Background work of the APIs, then the ingest consumer (writes and acks
		// what it holds, then returns).
		if a.purgeCancel != nil {
			a.purgeCancel()
			<-a.purgeDone
		}
		if err := a.stopBackground(ctx); err != nil {
			errs = append(errs, err)
		}
		if a.ingestCancel != nil {
			a.ingestCancel()
			select {
			case err := <-a.ingestDone:
				if err != nil && !errors.Is(err, context.Canceled) {
					errs = append(errs, fmt.Errorf("cloud: ingest: %w", err))
				}
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("cloud: ingest did not stop: %w", ctx.Err()))
			}
		}
		// 4. NATS.
		if b := a.bus.Swap(nil); b != nil {
			if err := b.Close(); err != nil {
				errs = append(errs, fmt.Errorf("cloud: nats: %w", err))
			}
		}
		// 5. Databases.
		if st := a.ch.Swap(nil); st != nil {
			if err := st.Close(); err != nil {
				errs = append(errs, fmt.Errorf("cloud: %w", err))
			}
		}
		if p := a.pg.Swap(nil); p != nil {
			p.Close()
		}
		stopErr = errors.Join(errs...)
		if a.ran.Load() {
			a.log.Info("cloud stopped", "clean", stopErr == nil) // errors are returned, not logged here
		}
	})
	return stopErr
}

func (a *App) checkPostgres(ctx context.Context) error {
	p := a.pg.Load()
	if p == nil {
		return ErrNotStarted
	}
	return p.Ping(ctx)
}

func (a *App) checkClickHouse(ctx context.Context) error {
	st := a.ch.Load()
	if st == nil {
		return ErrNotStarted
	}
	return st.Ping(ctx)
}

func (a *App) checkNATS(ctx context.Context) error {
	b := a.bus.Load()
	if b == nil {
		return ErrNotStarted
	}
	return b.Check(ctx)
}
