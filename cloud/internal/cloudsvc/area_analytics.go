package cloudsvc

import (
	"fmt"

	"github.com/fleetedge/fleetedge/cloud/internal/adminlists"
	"github.com/fleetedge/fleetedge/cloud/internal/analytics"
	"github.com/fleetedge/fleetedge/cloud/internal/exports"
)

// wireAnalytics registers the analytics (ClickHouse), the admin lists of rides, payments and
// riders, and the Excel exports on the admin API, and runs the ride sync (ended rides copied
// from PostgreSQL to ClickHouse) in the background. Every API process runs the sync; an
// advisory lock lets one of them copy at a time. Until ClickHouse is connected the analytics
// answer 503 unavailable and the sync waits.
func (a *App) wireAnalytics(ar *Area) error {
	if err := analytics.Register(ar.Admin, analytics.Deps{PG: ar.PG, ClickHouse: ar.ClickHouse, Now: ar.Now, Log: ar.Log}); err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	if err := adminlists.Register(ar.Admin, adminlists.Deps{PG: ar.PG, Log: ar.Log}); err != nil {
		return fmt.Errorf("adminlists: %w", err)
	}
	if err := exports.Register(ar.Admin, exports.Deps{PG: ar.PG, Now: ar.Now, Log: ar.Log}); err != nil {
		return fmt.Errorf("exports: %w", err)
	}
	sync, err := analytics.NewRideSync(analytics.SyncConfig{PG: ar.PG, ClickHouse: ar.ClickHouse, Registerer: ar.Registry, Log: ar.Log})
	if err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	ar.Go("ride sync", sync.Run)
	return nil
}
