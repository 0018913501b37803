package cloudsvc

import (
	"fmt"

	"github.com/fleetedge/fleetedge/cloud/internal/citycfg"
)

// wireCityCfg registers the cities, gateways, vehicles, zones and tariffs admin operations
// and runs the pusher that publishes the cities' configuration documents to their gateways
// once NATS is up (in role api, where there is none, changes stay pending for a process
// with NATS to publish).
func (a *App) wireCityCfg(ar *Area) error {
	svc, err := citycfg.New(citycfg.Config{
		DB: ar.PG,
		Downlink: func() citycfg.Publisher {
			if d := ar.Downlink(); d != nil {
				return d
			}
			return nil // not a typed nil: the pusher tests for nil
		},
		Now: ar.Now,
		Log: ar.Log,
	})
	if err != nil {
		return fmt.Errorf("citycfg: %w", err)
	}
	citycfg.Register(ar.Admin, svc)
	ar.Go("citycfg pusher", svc.Pusher().Run)
	return nil
}
