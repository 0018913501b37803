package rides

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/zone"
)

// zoneCache holds each city's live zones document (the highest published version), loaded
// once per city and version.
type zoneCache struct {
	mu     sync.Mutex // guards sets
	sets   map[int64]cityZones
	loadMu sync.Mutex // one load at a time (a load is rare: a new version)
}

type cityZones struct {
	version int
	set     *zone.Set
	hasArea bool // the document has operating_area zones
}

// current returns the city's live zone set (ErrNoZones when none is published). One
// indexed query for the version; the document is read and loaded only when it changed.
func (c *zoneCache) current(ctx context.Context, q querier, cityID int64) (cityZones, error) {
	var version int
	err := q.QueryRow(ctx, `SELECT version FROM zones WHERE city_id = $1 AND published_at IS NOT NULL
		ORDER BY version DESC LIMIT 1`, cityID).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return cityZones{}, ErrNoZones
	}
	if err != nil {
		return cityZones{}, fmt.Errorf("rides: zones version: %w", err)
	}
	c.mu.Lock()
	cz, ok := c.sets[cityID]
	c.mu.Unlock()
	if ok && cz.version == version {
		return cz, nil
	}
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	var (
		doc []byte
		tz  string
	)
	err = q.QueryRow(ctx, `SELECT z.document::text, c.timezone FROM zones z JOIN cities c ON c.id = z.city_id
		WHERE z.city_id = $1 AND z.version = $2`, cityID, version).Scan(&doc, &tz)
	if err != nil {
		return cityZones{}, fmt.Errorf("rides: zones document: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	set, err := zone.Load(doc, zone.Options{Location: loc})
	if err != nil {
		return cityZones{}, fmt.Errorf("rides: zones document of city %d version %d: %w", cityID, version, err)
	}
	cz = cityZones{version: version, set: set}
	for i := range set.Len() {
		if z, err := set.Zone(i); err == nil && z.Kind == zone.KindOperatingArea {
			cz.hasArea = true
			break
		}
	}
	c.mu.Lock()
	if c.sets == nil {
		c.sets = map[int64]cityZones{}
	}
	c.sets[cityID] = cz
	c.mu.Unlock()
	return cz, nil
}

// place is what the zones say about a point.
type place struct {
	inArea       bool // inside an operating area (or the document defines none)
	startAllowed bool
	endAllowed   bool
	zoneID       string // the zone whose rules decided ("" for the global rules)
	zoneName     string
	containing   []string // ids of every active zone containing the point
}

func (cz cityZones) evaluate(lat, lon float64, vehicleType string, now time.Time) place {
	p := orb.Point{lon, lat}
	v := cz.set.Evaluate(p, vehicleType, now)
	pl := place{inArea: !cz.hasArea, startAllowed: v.RideStartAllowed, endAllowed: v.RideEndAllowed}
	for _, zi := range v.Containing {
		z, err := cz.set.Zone(zi)
		if err != nil {
			continue
		}
		pl.containing = append(pl.containing, z.ID)
		if z.Kind == zone.KindOperatingArea {
			pl.inArea = true
		}
	}
	if zi, ok := v.RulesFrom.Zone(); ok {
		if z, err := cz.set.Zone(zi); err == nil {
			pl.zoneID, pl.zoneName = z.ID, zoneName(&z)
		}
	}
	return pl
}

// zoneName is the zone's English name, else its first, else its id.
func zoneName(z *zone.Zone) string {
	if n := z.Name("en"); n != "" {
		return n
	}
	return z.ID
}

// endRefusal describes a refused end at (lat, lon): the deciding zone and the nearest place
// where the ride may end (within 5 km). zone.NearestRideEnd skips an allowing zone that
// contains the point (a forbidding zone overrides it there), but such a zone is usually just
// beyond the forbidding zone's border (a no-parking street inside the service area): that
// border's distance is taken as a candidate too.
func (cz cityZones) endRefusal(pl place, lat, lon float64, vehicleType string, now time.Time) *EndRefusedError {
	e := &EndRefusedError{ZoneID: pl.zoneID, ZoneName: pl.zoneName}
	p := orb.Point{lon, lat}
	best := math.Inf(1)
	near, ok, err := cz.set.NearestRideEnd(p, vehicleType, now, 5000)
	if err == nil && ok && near.Zone >= 0 {
		if z, err := cz.set.Zone(near.Zone); err == nil {
			e.NearestZoneID, e.NearestZoneName, e.NearestMetres, best = z.ID, zoneName(&z), near.Metres, near.Metres
		}
	}
	if fi, ok := cz.set.Lookup(pl.zoneID); ok && pl.zoneID != "" {
		d, err := cz.set.DistanceToBoundary(p, fi)
		for _, id := range pl.containing {
			zi, ok := cz.set.Lookup(id)
			if !ok || zi == fi || err != nil || d >= best {
				continue
			}
			if z, zerr := cz.set.Zone(zi); zerr == nil && allowsEnd(&z, vehicleType) {
				e.NearestZoneID, e.NearestZoneName, e.NearestMetres, best = z.ID, zoneName(&z), d, d
			}
		}
	}
	return e
}

// allowsEnd: the zone's first rule for vehicleType allows ending a ride.
func allowsEnd(z *zone.Zone, vehicleType string) bool {
	for i := range z.Rules {
		if z.Rules[i].AppliesTo(vehicleType) {
			return z.Rules[i].RideEndAllowed
		}
	}
	return false
}
