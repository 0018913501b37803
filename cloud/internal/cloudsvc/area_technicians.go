package cloudsvc

import (
	"fmt"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/technicians"
)

// wireTechnicians registers the field technicians' admin operations and runs the pusher
// that publishes each city's technicians document to its gateway once NATS is up (and
// again whenever a publication failed or the bucket lost it).
func (a *App) wireTechnicians(ar *Area) error {
	// Hashes are verified by gateways (fieldui caps argon2id at 256 MiB, 2 at once): the
	// accounts' default costs, at most two hashes at once in this process.
	hasher, err := account.NewHasher(account.DefaultArgon2Params(), 2)
	if err != nil {
		return fmt.Errorf("technicians: %w", err)
	}
	svc, err := technicians.New(technicians.Config{
		DB:     ar.PG,
		Hasher: hasher,
		Downlink: func() technicians.Publisher {
			if d := ar.Downlink(); d != nil {
				return d
			}
			return nil // not a typed nil: the service tests for nil
		},
		Log: ar.Log,
	})
	if err != nil {
		return fmt.Errorf("technicians: %w", err)
	}
	svc.Register(ar.Admin)
	ar.Go("technicians pusher", svc.Run)
	return nil
}
