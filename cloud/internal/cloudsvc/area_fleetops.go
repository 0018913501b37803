package cloudsvc

import (
	"fmt"

	"github.com/fleetedge/fleetedge/cloud/internal/fleetops"
)

// wireFleetops registers the fleet operations (live map, vehicle detail, commands, bulk
// command jobs, firmware jobs) on the admin API, their firmware-event hook, and their
// dispatcher as a background task. The downlink and NATS connection exist only in roles with
// ingest: in role api the command routes answer 503 unavailable and jobs wait for a process
// that has them.
func (a *App) wireFleetops(ar *Area) error {
	svc, err := fleetops.New(fleetops.Config{
		PG: ar.PG, ClickHouse: ar.ClickHouse, Live: ar.Live, Log: ar.Log, Now: ar.Now,
		Commands: func() fleetops.CommandSender {
			if d := ar.Downlink(); d != nil {
				return d
			}
			return nil // not a typed nil: the service checks for nil
		},
		Firmware: func() fleetops.FirmwareSender {
			if b := a.bus.Load(); b != nil {
				return fleetops.NATSFirmware{Conn: b.Conn()}
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("cloud: fleetops: %w", err)
	}
	svc.Register(ar.Admin)
	ar.OnEvents(svc.HandleEvents)
	ar.Go("fleetops", svc.Run)
	return nil
}
