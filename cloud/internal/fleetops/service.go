package fleetops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("fleetops: invalid configuration")

// CommandSender sends one command to a city's gateway and returns the scooter's outcome
// (downlink.Downlink implements it).
type CommandSender interface {
	SendCommand(ctx context.Context, city link.CityID, req link.CommandRequest) (link.CommandResult, error)
}

// FirmwareSender asks a city's gateway to start a firmware upgrade job on one vehicle
// (NATSFirmware implements it).
type FirmwareSender interface {
	StartFirmware(ctx context.Context, city link.CityID, req link.FirmwareRequest) (link.FirmwareAccepted, error)
}

// Defaults.
const (
	DefaultTick               = 2 * time.Second
	DefaultFirmwareStall      = 30 * time.Minute
	DefaultFirmwareAttempts   = 5
	DefaultCommandTimeout     = 15 * time.Second
	DefaultJobConcurrency     = 16
	DefaultFirmwareParallel   = 10
	DefaultFirmwareAskTimeout = 10 * time.Second
)

// Config wires a Service. PG is required; the getters may return nil (not started yet, or
// role api without NATS): the operations needing them answer 503 unavailable then.
type Config struct {
	PG         *pgxpool.Pool
	ClickHouse func() *chstore.Store
	Commands   func() CommandSender
	Firmware   func() FirmwareSender
	Live       *livestate.Fleet
	Log        *slog.Logger
	Now        func() time.Time
	// Tick is the period of the firmware dispatcher and the bulk-job sweep (default 2 s).
	Tick time.Duration
	// FirmwareStall fails a dispatched upgrade without any event for this long (default 30 min).
	FirmwareStall time.Duration
	// FirmwareAttempts bounds the dispatches of one vehicle that found no gateway (default 5).
	FirmwareAttempts int
}

// Service serves the fleet operations. See the package documentation.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex      // guards runCtx, stopped, running and wg.Go (never after stopped)
	runCtx  context.Context // Run's context: bulk jobs live under it (nil before Run)
	stopped bool            // Run is waiting for the jobs: no new one starts
	running map[string]bool // bulk jobs executing in this process
	wg      sync.WaitGroup  // bulk job goroutines
	wake    chan struct{}   // pokes the dispatcher (a firmware job was created)
	nowFn   func() time.Time
}

// New checks cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	if cfg.PG == nil {
		return nil, fmt.Errorf("%w: no PostgreSQL pool", ErrConfig)
	}
	if cfg.Live == nil {
		cfg.Live = livestate.New()
	}
	if cfg.ClickHouse == nil {
		cfg.ClickHouse = func() *chstore.Store { return nil }
	}
	if cfg.Commands == nil {
		cfg.Commands = func() CommandSender { return nil }
	}
	if cfg.Firmware == nil {
		cfg.Firmware = func() FirmwareSender { return nil }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.FirmwareStall <= 0 {
		cfg.FirmwareStall = DefaultFirmwareStall
	}
	if cfg.FirmwareAttempts <= 0 {
		cfg.FirmwareAttempts = DefaultFirmwareAttempts
	}
	return &Service{cfg: cfg, log: cfg.Log.With("component", "fleetops"), running: map[string]bool{},
		wake: make(chan struct{}, 1), nowFn: cfg.Now}, nil
}

func (s *Service) now() time.Time { return s.nowFn().UTC() }

// Register adds the fleet operations to the admin API.
func (s *Service) Register(api *adminapi.API) {
	api.DeclareCodes(http.StatusUnprocessableEntity, CodeNoZone)
	api.DeclareCodes(http.StatusServiceUnavailable, CodeGatewayUnavailable)
	api.DeclareCodes(http.StatusGatewayTimeout, CodeGatewayTimeout, CodeVehicleTimeout)
	s.registerLive(api)
	s.registerDetail(api)
	s.registerCommands(api)
	s.registerJobs(api)
	s.registerFirmware(api)
}

// Run dispatches firmware jobs and resumes bulk jobs until ctx ends, then waits for the bulk
// jobs it runs. Run it once (cloudsvc: Area.Go).
func (s *Service) Run(ctx context.Context) {
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.stopped = true
			s.mu.Unlock()
			s.wg.Wait()
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

func (s *Service) tick(ctx context.Context) {
	if err := s.dispatchFirmware(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("firmware dispatch failed", "err", err)
	}
	if err := s.sweepCommandJobs(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("command job sweep failed", "err", err)
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// NATSFirmware sends link.FirmwareRequest messages on a city's command subject.
type NATSFirmware struct{ Conn *nats.Conn }

// StartFirmware sends req to city's gateway and returns its answer. Errors: no gateway of the
// city connected (wrapping nats.ErrNoResponders), no answer before ctx ends, a bad answer.
func (n NATSFirmware) StartFirmware(ctx context.Context, city link.CityID, req link.FirmwareRequest) (link.FirmwareAccepted, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return link.FirmwareAccepted{}, fmt.Errorf("fleetops: firmware request: %w", err)
	}
	msg := nats.NewMsg(link.CommandSubject(city))
	msg.Header.Set(link.KindHeader, link.KindFirmware)
	msg.Data = data
	resp, err := n.Conn.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return link.FirmwareAccepted{}, fmt.Errorf("fleetops: firmware request %s to %s: %w", req.JobID, req.Vehicle, err)
	}
	var acc link.FirmwareAccepted
	if err := json.Unmarshal(resp.Data, &acc); err != nil {
		return link.FirmwareAccepted{}, fmt.Errorf("fleetops: firmware answer for %s: %w", req.Vehicle, err)
	}
	return acc, nil
}
