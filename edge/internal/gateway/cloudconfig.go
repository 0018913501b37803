package gateway

import (
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/cloudlink"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

var _ cloudlink.Applier = (*Gateway)(nil)

// PrepareConfig implements cloudlink.Applier: configuration pushed by the
// cloud goes through the same parsing and the same swaps as the files and
// the stored copy at start (loadVehicles, loadZones). It runs on the cloud
// link's watch goroutine; the swaps are atomic pointer stores, so rule
// evaluation never pauses.
func (g *Gateway) PrepareConfig(u cloudlink.Update) (func(), error) {
	switch u.Kind {
	case link.ConfigZones:
		set := u.Zones // loaded by zone.Load with zone.Options{}, as loadZones does
		return func() { g.applyZones(set) }, nil
	case link.ConfigVehicles:
		_, table, err := parseVehicles(u.Stored, g.cfg.City)
		if err != nil {
			return nil, err
		}
		return func() { g.applyVehicles(table) }, nil
	case link.ConfigTariffs:
		// Stored by the link for rides settled offline; nothing on the gateway prices yet.
		return func() {}, nil
	case link.ConfigTechnicians:
		return g.prepareTechnicians(u)
	}
	return nil, fmt.Errorf("gateway: unknown configuration kind %q", u.Kind)
}

// applyZones puts a zone set in force: the rules engine swaps its pointer.
func (g *Gateway) applyZones(set *zone.Set) {
	for _, w := range set.Warnings() {
		g.log.Warn("zones", "warning", w)
	}
	g.zones.Store(set)
	if g.rules != nil { // nil while New loads the stored zones (rules.New takes them)
		g.rules.SetZones(set)
	}
}

// applyVehicles puts a vehicle table in force (credentials are checked at the
// next CONNECT; vehicles already connected stay connected).
func (g *Gateway) applyVehicles(table map[string]vehicle) {
	g.vehicles.set(table)
	ids := make([]protocol.VehicleID, 0, len(table))
	for id := range table {
		ids = append(ids, protocol.VehicleID(id))
	}
	g.fleet.Register(time.Now(), ids...)
}
