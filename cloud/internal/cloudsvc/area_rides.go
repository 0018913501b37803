package cloudsvc

import (
	"fmt"

	"github.com/fleetedge/fleetedge/cloud/internal/rides"
)

// wireRides registers the rider ride routes (nearby vehicles, start by number/QR, pause,
// resume, end, history, receipts) and the admin rider suspension, the ride-event hook (rides
// the gateway ended or started while the cloud did not hear the ack), and the background
// task that refreshes the nearby index and cancels stale reservations. In role api there is
// no downlink: starting, pausing and ending rides answer 503 unavailable there.
func (a *App) wireRides(ar *Area) error {
	svc, err := rides.New(rides.Config{
		Pool: ar.PG, Live: ar.Live, Log: ar.Log, Now: ar.Now, Registerer: ar.Registry,
		Commander: func() rides.Commander {
			if d := ar.Downlink(); d != nil {
				return d
			}
			return nil // not a typed nil
		},
		Fixes: func() rides.FixSource {
			if c := ar.ClickHouse(); c != nil {
				return c
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("cloud: rides: %w", err)
	}
	svc.RegisterRider(ar.Rider.Huma())
	svc.RegisterAdmin(ar.Admin)
	ar.OnEvents(svc.HandleEvents)
	ar.Go("rides", svc.Run)
	return nil
}
