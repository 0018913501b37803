package rides

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/shared/geo"
)

// NearbyVehicle is one rentable vehicle near a point.
type NearbyVehicle struct {
	Number     string
	City       string
	Model      string
	Lat, Lon   float64
	BatteryPct int
	RangeKm    float64
	DistanceM  float64
	SeenAt     time.Time
}

// cellDeg is the grid cell size: 0.01° is ~1.1 km north-south.
const cellDeg = 0.01

type cellKey struct{ x, y int32 }

func cellOf(lat, lon float64) cellKey {
	return cellKey{int32(math.Floor(lon / cellDeg)), int32(math.Floor(lat / cellDeg))}
}

// snapshot is an immutable nearby index: never modified after build.
type snapshot struct {
	vehicles []NearbyVehicle // DistanceM unset
	cells    map[cellKey][]int32
	built    time.Time
}

// Index answers nearby queries from the latest snapshot. Safe for concurrent use.
type Index struct {
	cur atomic.Pointer[snapshot]
}

// registryVehicle is a rentable vehicle of the PostgreSQL registry.
type registryVehicle struct {
	city, number, model string
}

// buildSnapshot joins the registry (available vehicles) with the live state.
func buildSnapshot(reg []registryVehicle, live *livestate.Fleet, cfg *Config, now time.Time) *snapshot {
	s := &snapshot{cells: make(map[cellKey][]int32), built: now}
	for _, r := range reg {
		v, ok := live.Get(linkCity(r.city), r.number)
		if !ok || !rentable(&v, cfg, now) {
			continue
		}
		nv := NearbyVehicle{Number: r.number, City: r.city, Model: r.model, Lat: v.Position.Lat, Lon: v.Position.Lon,
			BatteryPct: v.BatteryPct, RangeKm: estimatedRangeKm(cfg, r.model, v.BatteryPct), SeenAt: v.LastSeen}
		k := cellOf(nv.Lat, nv.Lon)
		s.cells[k] = append(s.cells[k], int32(len(s.vehicles)))
		s.vehicles = append(s.vehicles, nv)
	}
	return s
}

// online says whether a vehicle can be reached now: its gateway says online, or (no
// connectivity event yet) it was seen within the online window.
func online(v *livestate.Vehicle, cfg *Config, now time.Time) bool {
	switch v.Connectivity {
	case "online":
		return true
	case "offline", "lost":
		return false
	}
	return !v.LastSeen.IsZero() && now.Sub(v.LastSeen) <= cfg.OnlineWindow
}

// hasPosition: a fix was reported (0,0 is the "no fix" placeholder of some modules).
func hasPosition(v *livestate.Vehicle) bool {
	return !v.PositionAt.IsZero() && !(v.Position.Lat == 0 && v.Position.Lon == 0)
}

func rentable(v *livestate.Vehicle, cfg *Config, now time.Time) bool {
	return online(v, cfg, now) && hasPosition(v) && !v.BatteryAt.IsZero() && v.BatteryPct >= cfg.MinStartBatteryPct
}

// estimatedRangeKm is battery% × the model's full-charge range, rounded down to 0.1 km.
func estimatedRangeKm(cfg *Config, model string, battery int) float64 {
	full, ok := cfg.ModelRangeKm[model]
	if !ok {
		full = cfg.DefaultRangeKm
	}
	battery = min(max(battery, 0), 100)
	return math.Floor(float64(battery)*full/10) / 10
}

// Query returns the vehicles within radiusM (geodesic) of (lat, lon), nearest first, at most
// limit. The caller validates the arguments.
func (ix *Index) Query(lat, lon, radiusM float64, limit int) []NearbyVehicle {
	s := ix.cur.Load()
	if s == nil || len(s.vehicles) == 0 {
		return nil
	}
	// Bounding box in degrees, generous: 1° of latitude is at least 110.5 km, and of
	// longitude at least 111.3 km × cos(lat) (less the ellipsoid's 0.7% at worst).
	dLat := radiusM/110_000 + cellDeg/100
	cos := math.Cos(math.Min(math.Abs(lat)+dLat, 89.9) * math.Pi / 180)
	dLon := math.Min(radiusM/(110_000*cos)+cellDeg/100, 180)
	lo, hi := cellOf(lat-dLat, lon-dLon), cellOf(lat+dLat, lon+dLon)
	// Candidates are filtered and ordered by a local-plane distance (WGS84 radii of curvature
	// at the query's latitude: within a small fraction of a percent at ≤ 5 km); the geodesic is
	// computed only where the approximation is within 1% of the radius and for the vehicles
	// returned, whose DistanceM is geodesic.
	kLat, kLon := metresPerDegree(lat)
	type cand struct {
		i int32
		d float64
	}
	var cands []cand
	p := orb.Point{lon, lat}
	for y := lo.y; y <= hi.y; y++ {
		for x := lo.x; x <= hi.x; x++ {
			for _, i := range s.cells[cellKey{x, y}] {
				v := &s.vehicles[i]
				dy, dx := (v.Lat-lat)*kLat, (v.Lon-lon)*kLon
				d := math.Sqrt(dx*dx + dy*dy)
				switch {
				case d > radiusM*1.01:
					continue
				case d > radiusM*0.99:
					if d = geo.Distance(p, orb.Point{v.Lon, v.Lat}); d > radiusM {
						continue
					}
				}
				cands = append(cands, cand{i, d})
			}
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return compareStrings(s.vehicles[a.i].Number, s.vehicles[b.i].Number)
	})
	if len(cands) > limit {
		cands = cands[:limit]
	}
	out := make([]NearbyVehicle, len(cands))
	for j, c := range cands {
		out[j] = s.vehicles[c.i]
		out[j].DistanceM = geo.Distance(p, orb.Point{out[j].Lon, out[j].Lat})
	}
	return out
}

// metresPerDegree returns the metres per degree of latitude and of longitude at lat (WGS84
// meridional and prime-vertical radii of curvature).
func metresPerDegree(lat float64) (kLat, kLon float64) {
	const a, e2 = 6378137.0, 6.69437999014e-3
	phi := lat * math.Pi / 180
	sin := math.Sin(phi)
	w := math.Sqrt(1 - e2*sin*sin)
	m := a * (1 - e2) / (w * w * w)
	n := a / w
	return m * math.Pi / 180, n * math.Cos(phi) * math.Pi / 180
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Len is the number of vehicles in the current snapshot.
func (ix *Index) Len() int {
	if s := ix.cur.Load(); s != nil {
		return len(s.vehicles)
	}
	return 0
}

// loadRegistry reads the rentable vehicles of every city.
func loadRegistry(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]registryVehicle, error) {
	rows, err := q.Query(ctx, `SELECT c.code, v.number, v.model FROM vehicles v JOIN cities c ON c.id = v.city_id
		WHERE v.status = 'available'`)
	if err != nil {
		return nil, fmt.Errorf("rides: load registry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (registryVehicle, error) {
		var v registryVehicle
		err := r.Scan(&v.city, &v.number, &v.model)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("rides: load registry: %w", err)
	}
	return out, nil
}

// refreshIndex rebuilds the index once.
func (s *Service) refreshIndex(ctx context.Context) error {
	reg, err := loadRegistry(ctx, s.cfg.Pool)
	if err != nil {
		return err
	}
	snap := buildSnapshot(reg, s.cfg.Live, &s.cfg, s.cfg.Now())
	s.index.cur.Store(snap)
	s.met.nearbyN.Set(float64(len(snap.vehicles)))
	return nil
}
