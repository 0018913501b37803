// Package zone owns a city's geofencing zones: it loads and validates a
// GBFS v3 geofencing_zones.json document, indexes the zones spatially and
// answers, for a GPS fix, which rules are in force there for a vehicle
// type at an instant. The edge gateway calls it on every fix; the cloud
// uses the same loader to validate what operators upload.
//
// # Input
//
// Load accepts the full GBFS v3.x document (last_updated, ttl, version,
// data.geofencing_zones, data.global_rules) or a bare GeoJSON
// FeatureCollection of zones, the shape map editors export; a bare
// collection has no global rules, so Options.GlobalRules stands in for
// them (nil: no restriction outside zones). Each feature must be a GeoJSON
// Feature with a MultiPolygon geometry: every ring closed, at least 4
// positions, [lon, lat] within range, enclosing a non-zero area. Ring
// orientation (RFC 7946's right-hand rule) and self-intersection are not
// checked: containment does not depend on orientation. Rules need
// ride_start_allowed, ride_end_allowed and ride_through_allowed;
// maximum_speed_kph must be a whole number in [0, 100]; vehicle type ids
// are not checked against vehicle_types.json (unknown ids are allowed) but
// an empty vehicle_type_ids array is refused as ambiguous. The GBFS v2 name
// vehicle_type_id is read when vehicle_type_ids is absent (the official
// v3.0 example uses it) and reported by Set.Warnings. Every problem comes
// back as a *ValidationError naming the feature index and the field path;
// all match ErrInvalid. Bad input never panics (FuzzLoad).
//
// Operator extensions live in extra properties, which keep the document
// GBFS-valid (the schema allows additional properties):
//
//	feature.id                           GeoJSON feature id (string or number): the zone's stable id
//	properties.fleetedge.id              id when the feature has none (default "#<index>")
//	properties.fleetedge.kind            operating_area | slow | no_ride | no_parking | parking (display only)
//	properties.fleetedge.alarm_on_entry  true: the gateway raises an alarm when a vehicle enters
//	properties.fleetedge.schedule        [{"days": ["fri", "sat"], "from": "22:00", "to": "06:00"}, ...]
//	data.fleetedge.timezone              IANA zone of the schedules (Options.Location overrides; default UTC)
//
// A schedule window is local wall-clock time in the city's time zone; days
// default to every day; "to" may be "24:00"; a window whose "to" is not
// after "from" runs past midnight and its after-midnight part belongs to
// the listed day it started on (fri 22:00-06:00 covers Saturday 05:59).
//
// # Semantics (GBFS v3.0 "Geofencing Rule Precedence", as implemented)
//
// GBFS v3.0 says: when several rules of one array apply to a vehicle type,
// the earlier rule takes precedence; when overlapping polygons define rules
// for a vehicle type, the earlier polygon's rules take precedence in the
// overlap, and polygons whose time range is inactive are left out; a
// polygon's rules take precedence over global_rules inside it. Evaluate
// implements that as follows, for a point p, a vehicle type v and an
// instant t:
//
//  1. A zone is active at t when start <= t < end (each bound optional) and,
//     if it has a fleetedge schedule, t falls in one of its windows.
//     Inactive zones are ignored entirely.
//  2. The containing zones are the active zones whose geometry contains p,
//     visited in document order (earlier = higher precedence). Containment
//     is geo.Contains: planar in lon/lat, as GeoJSON defines polygon
//     interiors; the boundary belongs to the zone (a point within ~1e-15°
//     of an edge may go either way); holes are excluded; a MultiPolygon
//     contains p when any of its polygons does.
//  3. Within a zone, the rule that applies to v is the first rule whose
//     vehicle_type_ids lists v, or that has no vehicle_type_ids (all types).
//     A zone without such a rule is transparent for v: it still appears in
//     Verdict.Containing (and its alarm counts) but supplies no rule.
//  4. Attribute by attribute: ride_start_allowed, ride_end_allowed and
//     ride_through_allowed (required in every rule, so always together)
//     come from the first containing zone with a rule for v;
//     maximum_speed_kph comes from the first containing zone whose rule for
//     v specifies it, even if that is a later zone than the one that gave
//     the booleans; station_parking likewise. An attribute no containing
//     zone specifies is unrestricted (no speed limit, no station parking).
//  5. Only when no containing zone has a rule for v do global_rules apply:
//     the first global rule for v supplies every attribute. Global rules
//     are not mixed into zone results. This is how "outside the operating
//     area" is expressed: restrictive global rules plus permissive zones.
//  6. When neither a zone nor a global rule applies to v, nothing is
//     restricted (GBFS: by default no restrictions apply), reported with
//     SourceNone.
//
// Verdict says which zone (or SourceGlobal / SourceNone) supplied each
// attribute, so the gateway can explain a refusal and pick a speed-limit
// command.
//
// # Index and cost
//
// Load builds a uniform grid over all zones (at most 65,536 cells, roughly
// square on the ground). A cell lists, in document order, each zone that
// touches it: "full" when the cell lies wholly inside the zone (no test
// needed), otherwise with the zone's polygons clipped to the cell, usually
// a handful of vertices. Evaluating a point costs one cell lookup plus one
// small geo.Contains per zone boundary crossing that cell, however large
// the zones are; EvaluateInto does not allocate. Measured on this machine
// (BenchmarkEvaluate*): tens of ns for most points, under 1 µs in the
// busiest cell of the Paris example and of a synthetic 500-zone city.
//
// Distances are geodesic on WGS84 (shared/geo). DistanceToBoundary costs
// microseconds to tens of microseconds depending on the zone's vertex
// count: call it when the set of containing zones changes (to apply
// hysteresis), not on every fix. NearestRideEnd searches the zones whose
// own rule allows ending, nearest bounding box first, and is meant for the
// "end ride refused" path.
//
// # Concurrency
//
// A Set is immutable after Load and safe for concurrent use. To update
// zones, load a new Set and swap a pointer; zone positions (ints) are only
// meaningful within the Set that produced them, ids are stable across sets.
package zone
