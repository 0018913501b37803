package cloudsvc

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Area is what the API areas beyond accounts (rides, payments, fleet, zones and tariffs,
// analytics, …) get from the process. Each area lives in its own package, registers its
// operations on Rider (riderapi.API.Huma) and Admin (adminapi.Register), and is wired by one
// line in registerAreas.
type Area struct {
	Rider *riderapi.API
	Admin *adminapi.API
	// PG is the pool as fleetedge_app; Keyring seals personal data and provider tokens.
	PG      *pgxpool.Pool
	Keyring *fieldcrypt.Keyring
	// ClickHouse, Downlink: started after the APIs, so getters; nil until started (Downlink
	// stays nil in role api, which runs no NATS: an area answers 503 unavailable then).
	ClickHouse func() *chstore.Store
	Downlink   func() *downlink.Downlink
	// Live is the latest state of every vehicle (fed by this process's ingest).
	Live     *livestate.Fleet
	Registry prometheus.Registerer
	Log      *slog.Logger
	Now      func() time.Time

	app *App
}

// EventHook sees every event batch from the gateways after it is stored in PostgreSQL
// (vehicle_events) and before the batch is acknowledged; an error naks the batch, so it comes
// again: hooks must be idempotent.
type EventHook func(ctx context.Context, city link.CityID, gw link.GatewayID, events []link.Event) error

// OnEvents adds an event hook (role ingest/all; in role api hooks never run).
func (ar *Area) OnEvents(h EventHook) { ar.app.eventHooks = append(ar.app.eventHooks, h) }

// Go runs fn in the background until the process stops: fn must return once ctx ends (the
// shutdown waits for it, after the HTTP server and before the ingest consumer).
func (ar *Area) Go(name string, fn func(ctx context.Context)) {
	a := ar.app
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		fn(a.bgCtx)
		a.log.Debug("background task stopped", "task", name)
	}()
}

// background is the lifetime of the areas' background tasks.
type background struct {
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
}

// registerAreas wires every area onto the rider and admin APIs before they serve.
func (a *App) registerAreas(rider *riderapi.API, adm *adminapi.API, kr *fieldcrypt.Keyring) error {
	a.bgCtx, a.bgCancel = context.WithCancel(context.Background())
	ar := &Area{
		Rider: rider, Admin: adm, PG: a.pg.Load(), Keyring: kr,
		ClickHouse: a.ch.Load, Downlink: a.down.Load, Live: a.live,
		Registry: a.reg, Log: a.log, Now: time.Now, app: a,
	}
	// One line per area: errors.Join(area1.Wire(ar...), area2.Wire(...)).
	return errors.Join(
		a.wireFleetops(ar),
		a.wireAnalytics(ar),
		a.wireRides(ar),
		a.wireCityCfg(ar),
		a.wirePayments(ar),
		a.wireTechnicians(ar),
	)
}

// runEventHooks runs the areas' hooks on a stored event batch.
func (a *App) runEventHooks(ctx context.Context, city link.CityID, gw link.GatewayID, events []link.Event) error {
	for _, h := range a.eventHooks {
		if err := h(ctx, city, gw, events); err != nil {
			return err
		}
	}
	return nil
}

// stopBackground cancels the areas' background tasks and waits for them (bounded by ctx).
func (a *App) stopBackground(ctx context.Context) error {
	if a.bgCancel == nil {
		return nil
	}
	a.bgCancel()
	done := make(chan struct{})
	go func() { a.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("cloud: background tasks did not stop: " + ctx.Err().Error())
	}
}
