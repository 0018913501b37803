package zone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// MaxSpeedLimitKPH is the highest maximum_speed_kph Load accepts: anything
// above is a typo (or mph confusion) for a scooter or bike fleet.
const MaxSpeedLimitKPH = 100

// Options tune Load. The zero value is ready to use.
type Options struct {
	// Location is the city's time zone, used by zone schedules. When nil,
	// the document's data.fleetedge.timezone is used, else UTC.
	Location *time.Location
	// GlobalRules are used outside every zone when the input is a bare
	// FeatureCollection (which cannot carry global_rules). Ignored for a
	// full document, whose data.global_rules always win. Nil means no
	// restrictions outside zones, as GBFS says for the absence of rules.
	GlobalRules []Rule
}

// Wire structs: the JSON shape of GBFS v3.0 geofencing_zones.json plus the
// fleetedge extensions. Pointers tell "absent" from "zero" for required
// fields. They are used only inside Load.
type (
	wireCollection struct {
		Type     *string           `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	wireFeature struct {
		Type       *string         `json:"type"`
		ID         json.RawMessage `json:"id"`
		Geometry   *wireGeometry   `json:"geometry"`
		Properties *wireProperties `json:"properties"`
	}
	wireGeometry struct {
		Type        *string         `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	wireProperties struct {
		Name      json.RawMessage `json:"name"`
		Start     *string         `json:"start"`
		End       *string         `json:"end"`
		Rules     []wireRule      `json:"rules"`
		Fleetedge *wireExtension  `json:"fleetedge"`
	}
	wireLocalized struct {
		Text     *string `json:"text"`
		Language *string `json:"language"`
	}
	wireRule struct {
		VehicleTypeIDs []string `json:"vehicle_type_ids"`
		// LegacyVehicleTypeID is the GBFS v2.x name, still used by the
		// official v3.0 example; accepted when vehicle_type_ids is absent.
		LegacyVehicleTypeID []string `json:"vehicle_type_id"`
		RideStartAllowed    *bool    `json:"ride_start_allowed"`
		RideEndAllowed      *bool    `json:"ride_end_allowed"`
		RideThroughAllowed  *bool    `json:"ride_through_allowed"`
		MaximumSpeedKPH     *float64 `json:"maximum_speed_kph"`
		StationParking      *bool    `json:"station_parking"`
	}
	wireExtension struct {
		ID           *string      `json:"id"`
		Kind         *string      `json:"kind"`
		AlarmOnEntry *bool        `json:"alarm_on_entry"`
		Schedule     []wireWindow `json:"schedule"`
	}
	wireWindow struct {
		Days []string `json:"days"`
		From *string  `json:"from"`
		To   *string  `json:"to"`
	}
	wireDataExtension struct {
		Timezone *string `json:"timezone"`
	}
)

// loader carries the state of one Load.
type loader struct {
	probs    problems
	warnings []string
	// legacyRules counts rules that used vehicle_type_id; legacyFirst is
	// where the first one was.
	legacyRules int
	legacyFirst string
}

// Load parses and validates a GBFS v3 geofencing_zones.json document and
// builds its Set. It accepts:
//
//   - the full document: {"last_updated", "ttl", "version": "3.x",
//     "data": {"geofencing_zones": FeatureCollection, "global_rules": [...]}};
//   - a bare GeoJSON FeatureCollection of zones (what operators often export
//     from a map editor), with opts.GlobalRules standing in for global_rules.
//
// Every problem found (up to a limit) is reported as a *ValidationError
// naming the feature index and field; all match ErrInvalid. Load never
// panics on bad input.
func Load(data []byte, opts Options) (*Set, error) {
	l := &loader{}
	top, ok := l.object(data, -1, "")
	if !ok {
		return nil, l.probs.err()
	}
	var (
		meta        Meta
		collection  json.RawMessage
		collPath    string
		globalRules []Rule
		loc         = opts.Location
	)
	if _, hasData := top["data"]; !hasData && top["type"] != nil {
		meta.Bare = true
		collection = data
		globalRules = cloneRules(opts.GlobalRules)
	} else {
		meta = l.header(top)
		var dataObj map[string]json.RawMessage
		if raw, present := top["data"]; !present || isNull(raw) {
			l.probs.add(-1, "data", "required")
		} else {
			dataObj, _ = l.object(raw, -1, "data")
		}
		if dataObj != nil {
			collPath = "data.geofencing_zones"
			if raw, present := dataObj["geofencing_zones"]; !present || isNull(raw) {
				l.probs.add(-1, collPath, "required")
			} else {
				collection = raw
			}
			globalRules = l.globalRules(dataObj["global_rules"])
			if loc == nil {
				loc = l.dataExtension(dataObj["fleetedge"])
			}
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	var zones []Zone
	if collection != nil {
		zones = l.collection(collection, collPath)
	}
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	if l.legacyRules > 0 {
		l.warnings = append(l.warnings, fmt.Sprintf(
			"%d rules use the GBFS v2 field vehicle_type_id; read as vehicle_type_ids (first: %s)",
			l.legacyRules, l.legacyFirst))
	}
	return newSet(zones, globalRules, loc, meta, l.warnings), nil
}

// object decodes raw as a JSON object.
func (l *loader) object(raw []byte, feature int, path string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		l.decodeError(feature, path, err)
		return nil, false
	}
	if m == nil {
		l.probs.add(feature, path, "must be a JSON object, got null")
		return nil, false
	}
	return m, true
}

// decodeError turns an encoding/json error into a ValidationError.
func (l *loader) decodeError(feature int, path string, err error) {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		l.probs.add(feature, path, "not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if path != "" && field != "" {
			field = path + "." + field
		} else if path != "" {
			field = path
		}
		l.probs.add(feature, field, "wrong JSON type: got %s, want %s", typ.Value, jsonKind(typ.Type.String()))
	default:
		l.probs.add(feature, path, "cannot decode: %v", err)
	}
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(goType string) string {
	switch {
	case goType == "bool" || goType == "*bool":
		return "boolean"
	case goType == "string" || goType == "*string":
		return "string"
	case strings.Contains(goType, "float") || strings.Contains(goType, "int"):
		if strings.HasPrefix(goType, "[]") {
			return "array"
		}
		return "number"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "json.RawMessage"):
		return "array"
	default:
		return "object"
	}
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// header validates last_updated, ttl and version.
func (l *loader) header(top map[string]json.RawMessage) Meta {
	var meta Meta
	if raw, ok := top["last_updated"]; !ok || isNull(raw) {
		l.probs.add(-1, "last_updated", "required")
	} else {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			l.probs.add(-1, "last_updated", "must be an RFC 3339 date-time string (GBFS v3), got %s", abbreviate(raw))
		} else if t, err := time.Parse(time.RFC3339, s); err != nil {
			l.probs.add(-1, "last_updated", "not an RFC 3339 date-time: %q", s)
		} else {
			meta.LastUpdated = t
		}
	}
	if raw, ok := top["ttl"]; !ok || isNull(raw) {
		l.probs.add(-1, "ttl", "required")
	} else {
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
			l.probs.add(-1, "ttl", "must be a non-negative integer number of seconds, got %s", abbreviate(raw))
		} else {
			meta.TTL = time.Duration(f) * time.Second
		}
	}
	if raw, ok := top["version"]; !ok || isNull(raw) {
		l.probs.add(-1, "version", "required")
	} else {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			l.probs.add(-1, "version", "must be a string, got %s", abbreviate(raw))
		} else if !strings.HasPrefix(s, "3.") {
			l.probs.add(-1, "version", "GBFS version %q not supported: want 3.x (v2 rules use other fields)", s)
		} else {
			meta.Version = s
		}
	}
	return meta
}

// abbreviate shortens raw JSON for an error message.
func abbreviate(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}

// globalRules validates data.global_rules.
func (l *loader) globalRules(raw json.RawMessage) []Rule {
	const path = "data.global_rules"
	if raw == nil || isNull(raw) {
		l.probs.add(-1, path, "required (an empty array means no restrictions outside zones)")
		return nil
	}
	var wr []wireRule
	if err := json.Unmarshal(raw, &wr); err != nil {
		l.decodeError(-1, path, err)
		return nil
	}
	rules := make([]Rule, 0, len(wr))
	for i := range wr {
		if r, ok := l.rule(-1, path+"["+strconv.Itoa(i)+"]", &wr[i]); ok {
			rules = append(rules, r)
		}
	}
	return rules
}

// dataExtension reads data.fleetedge (the city's time zone).
func (l *loader) dataExtension(raw json.RawMessage) *time.Location {
	const path = "data.fleetedge"
	if raw == nil || isNull(raw) {
		return nil
	}
	var ext wireDataExtension
	if err := json.Unmarshal(raw, &ext); err != nil {
		l.decodeError(-1, path, err)
		return nil
	}
	if ext.Timezone == nil {
		return nil
	}
	name := *ext.Timezone
	if name == "" || name == "Local" {
		l.probs.add(-1, path+".timezone", "must be an IANA time zone name such as Europe/Paris, got %q", name)
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		l.probs.add(-1, path+".timezone", "unknown time zone %q", name)
		return nil
	}
	return loc
}

// collection validates a FeatureCollection and converts its features.
func (l *loader) collection(raw json.RawMessage, path string) []Zone {
	var c wireCollection
	if err := json.Unmarshal(raw, &c); err != nil {
		l.decodeError(-1, path, err)
		return nil
	}
	at := func(field string) string {
		if path == "" {
			return field
		}
		return path + "." + field
	}
	if c.Type == nil {
		l.probs.add(-1, at("type"), "required")
	} else if *c.Type != "FeatureCollection" {
		l.probs.add(-1, at("type"), "must be \"FeatureCollection\", got %q", *c.Type)
	}
	if c.Features == nil {
		l.probs.add(-1, at("features"), "required (an array of Feature objects)")
		return nil
	}
	zones := make([]Zone, 0, len(c.Features))
	ids := make(map[string]int, len(c.Features))
	for i, fr := range c.Features {
		if l.probs.full() {
			l.probs.truncated = true
			break
		}
		z, ok := l.feature(i, fr)
		if !ok {
			continue
		}
		if prev, dup := ids[z.ID]; dup {
			l.probs.add(i, "id", "zone id %q already used by feature %d", z.ID, prev)
			continue
		}
		ids[z.ID] = i
		zones = append(zones, z)
	}
	return zones
}

// feature validates one Feature and converts it to a Zone.
func (l *loader) feature(i int, raw json.RawMessage) (Zone, bool) {
	before := len(l.probs.list)
	var f wireFeature
	if err := json.Unmarshal(raw, &f); err != nil {
		l.decodeError(i, "", err)
		return Zone{}, false
	}
	z := Zone{Index: i}
	if f.Type == nil {
		l.probs.add(i, "type", "required")
	} else if *f.Type != "Feature" {
		l.probs.add(i, "type", "must be \"Feature\", got %q", *f.Type)
	}
	z.Geometry = l.geometry(i, f.Geometry)
	if z.Geometry != nil {
		z.Bound = z.Geometry.Bound()
	}
	if f.Properties == nil {
		l.probs.add(i, "properties", "required")
	} else {
		l.properties(i, f.Properties, &z)
	}
	z.ID = l.featureID(i, f.ID, f.Properties)
	return z, len(l.probs.list) == before && !l.probs.truncated
}

// featureID picks the zone id: GeoJSON "id", else fleetedge "id", else "#i".
func (l *loader) featureID(i int, raw json.RawMessage, props *wireProperties) string {
	if raw != nil && !isNull(raw) {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			if s == "" {
				l.probs.add(i, "id", "must not be empty")
			}
			return s
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err == nil {
			return n.String()
		}
		l.probs.add(i, "id", "must be a string or a number (GeoJSON), got %s", abbreviate(raw))
		return ""
	}
	if props != nil && props.Fleetedge != nil && props.Fleetedge.ID != nil {
		if *props.Fleetedge.ID == "" {
			l.probs.add(i, "properties.fleetedge.id", "must not be empty")
		}
		return *props.Fleetedge.ID
	}
	return "#" + strconv.Itoa(i)
}

// geometry validates a GeoJSON MultiPolygon.
func (l *loader) geometry(i int, g *wireGeometry) orb.MultiPolygon {
	if g == nil {
		l.probs.add(i, "geometry", "required")
		return nil
	}
	if g.Type == nil {
		l.probs.add(i, "geometry.type", "required")
		return nil
	}
	if *g.Type != "MultiPolygon" {
		l.probs.add(i, "geometry.type", "must be \"MultiPolygon\" (GBFS v3), got %q", *g.Type)
		return nil
	}
	if g.Coordinates == nil || isNull(g.Coordinates) {
		l.probs.add(i, "geometry.coordinates", "required")
		return nil
	}
	var coords [][][][]float64
	if err := json.Unmarshal(g.Coordinates, &coords); err != nil {
		l.decodeError(i, "geometry.coordinates", err)
		return nil
	}
	if len(coords) == 0 {
		l.probs.add(i, "geometry.coordinates", "must hold at least one polygon")
		return nil
	}
	mp := make(orb.MultiPolygon, 0, len(coords))
	ok := true
	for pi, poly := range coords {
		if len(poly) == 0 {
			l.probs.add(i, fmt.Sprintf("geometry.coordinates[%d]", pi), "polygon must hold at least its exterior ring")
			ok = false
			continue
		}
		p := make(orb.Polygon, 0, len(poly))
		for ri, ring := range poly {
			r, rok := l.ring(i, fmt.Sprintf("geometry.coordinates[%d][%d]", pi, ri), ring)
			ok = ok && rok
			p = append(p, r)
		}
		mp = append(mp, p)
	}
	if !ok {
		return nil
	}
	return mp
}

// ring validates one linear ring: >= 4 positions, each a valid lon/lat,
// closed, enclosing a non-zero area.
func (l *loader) ring(i int, path string, ring [][]float64) (orb.Ring, bool) {
	if len(ring) < 4 {
		l.probs.add(i, path, "ring has %d positions, needs at least 4 (closed: first == last)", len(ring))
		return nil, false
	}
	r := make(orb.Ring, len(ring))
	for k, pos := range ring {
		if len(pos) < 2 {
			l.probs.add(i, fmt.Sprintf("%s[%d]", path, k), "position needs longitude and latitude, got %d numbers", len(pos))
			return nil, false
		}
		lon, lat := pos[0], pos[1]
		switch {
		case math.IsNaN(lon) || math.IsNaN(lat) || math.IsInf(lon, 0) || math.IsInf(lat, 0):
			l.probs.add(i, fmt.Sprintf("%s[%d]", path, k), "coordinate is not a finite number")
			return nil, false
		case lon < -180 || lon > 180:
			l.probs.add(i, fmt.Sprintf("%s[%d]", path, k), "longitude %v out of range [-180, 180] (GeoJSON order is [lon, lat])", lon)
			return nil, false
		case lat < -90 || lat > 90:
			l.probs.add(i, fmt.Sprintf("%s[%d]", path, k), "latitude %v out of range [-90, 90] (GeoJSON order is [lon, lat])", lat)
			return nil, false
		}
		r[k] = orb.Point{lon, lat}
	}
	if r[0] != r[len(r)-1] {
		l.probs.add(i, path, "ring is not closed: first position %v != last %v", r[0], r[len(r)-1])
		return nil, false
	}
	if ringArea2(r) == 0 {
		l.probs.add(i, path, "ring encloses no area (all positions collinear or equal)")
		return nil, false
	}
	return r, true
}

// ringArea2 is twice the signed planar area of r in degrees².
func ringArea2(r orb.Ring) float64 {
	var a float64
	for k := 0; k+1 < len(r); k++ {
		a += (r[k][0]-r[0][0])*(r[k+1][1]-r[0][1]) - (r[k+1][0]-r[0][0])*(r[k][1]-r[0][1])
	}
	return a
}

// properties validates name, start/end, rules and the fleetedge extension.
func (l *loader) properties(i int, p *wireProperties, z *Zone) {
	z.Names = l.names(i, p.Name)
	z.Start = l.timestamp(i, "properties.start", p.Start)
	z.End = l.timestamp(i, "properties.end", p.End)
	if !z.Start.IsZero() && !z.End.IsZero() && !z.End.After(z.Start) {
		l.probs.add(i, "properties.end", "end %s is not after start %s", z.End.Format(time.RFC3339), z.Start.Format(time.RFC3339))
	}
	if p.Rules != nil {
		z.Rules = make([]Rule, 0, len(p.Rules))
		for k := range p.Rules {
			if r, ok := l.rule(i, "properties.rules["+strconv.Itoa(k)+"]", &p.Rules[k]); ok {
				z.Rules = append(z.Rules, r)
			}
		}
	}
	if ext := p.Fleetedge; ext != nil {
		if ext.Kind != nil {
			k, ok := parseKind(*ext.Kind)
			if !ok {
				l.probs.add(i, "properties.fleetedge.kind", "unknown kind %q (want operating_area, slow, no_ride, no_parking or parking)", *ext.Kind)
			}
			z.Kind = k
		}
		if ext.AlarmOnEntry != nil {
			z.AlarmOnEntry = *ext.AlarmOnEntry
		}
		for k := range ext.Schedule {
			if w, ok := l.window(i, "properties.fleetedge.schedule["+strconv.Itoa(k)+"]", &ext.Schedule[k]); ok {
				z.Schedule = append(z.Schedule, w)
			}
		}
		if ext.Schedule != nil && len(ext.Schedule) == 0 {
			l.probs.add(i, "properties.fleetedge.schedule", "empty schedule would never be active; omit it for always")
		}
	}
}

// names validates a localized-string array.
func (l *loader) names(i int, raw json.RawMessage) []LocalizedString {
	const path = "properties.name"
	if raw == nil || isNull(raw) {
		return nil
	}
	var wn []wireLocalized
	if err := json.Unmarshal(raw, &wn); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			l.probs.add(i, path, "must be an array of {text, language} (GBFS v3 localized string), got a plain string")
		} else {
			l.decodeError(i, path, err)
		}
		return nil
	}
	out := make([]LocalizedString, 0, len(wn))
	for k, n := range wn {
		at := fmt.Sprintf("%s[%d]", path, k)
		if n.Text == nil {
			l.probs.add(i, at+".text", "required")
			continue
		}
		if n.Language == nil {
			l.probs.add(i, at+".language", "required")
			continue
		}
		if !validLanguage(*n.Language) {
			l.probs.add(i, at+".language", "%q is not a language code like \"en\" or \"fr-FR\"", *n.Language)
			continue
		}
		out = append(out, LocalizedString{Text: *n.Text, Language: *n.Language})
	}
	return out
}

// validLanguage checks the GBFS pattern ^[a-z]{2,3}(-[A-Z]{2})?$.
func validLanguage(s string) bool {
	base, region, hasRegion := strings.Cut(s, "-")
	if len(base) < 2 || len(base) > 3 {
		return false
	}
	for _, c := range []byte(base) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	if !hasRegion {
		return true
	}
	return len(region) == 2 && region[0] >= 'A' && region[0] <= 'Z' && region[1] >= 'A' && region[1] <= 'Z'
}

// timestamp parses an optional RFC 3339 field.
func (l *loader) timestamp(i int, path string, s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		l.probs.add(i, path, "not an RFC 3339 date-time: %q", *s)
		return time.Time{}
	}
	return t
}

// rule validates one rule object.
func (l *loader) rule(i int, path string, w *wireRule) (Rule, bool) {
	before := len(l.probs.list)
	var r Rule
	switch {
	case w.VehicleTypeIDs != nil:
		if len(w.VehicleTypeIDs) == 0 {
			l.probs.add(i, path+".vehicle_type_ids", "empty array: omit vehicle_type_ids to mean every vehicle type")
		}
		r.VehicleTypeIDs = w.VehicleTypeIDs
	case w.LegacyVehicleTypeID != nil:
		if len(w.LegacyVehicleTypeID) == 0 {
			l.probs.add(i, path+".vehicle_type_id", "empty array: omit it to mean every vehicle type")
		}
		r.VehicleTypeIDs = w.LegacyVehicleTypeID
		if l.legacyRules == 0 {
			if i >= 0 {
				l.legacyFirst = "feature " + strconv.Itoa(i) + " " + path
			} else {
				l.legacyFirst = path
			}
		}
		l.legacyRules++
	}
	req := func(field string, v *bool) bool {
		if v == nil {
			l.probs.add(i, path+"."+field, "required")
			return false
		}
		return *v
	}
	r.RideStartAllowed = req("ride_start_allowed", w.RideStartAllowed)
	r.RideEndAllowed = req("ride_end_allowed", w.RideEndAllowed)
	r.RideThroughAllowed = req("ride_through_allowed", w.RideThroughAllowed)
	if s := w.MaximumSpeedKPH; s != nil {
		if *s != math.Trunc(*s) || *s < 0 || *s > MaxSpeedLimitKPH {
			l.probs.add(i, path+".maximum_speed_kph", "must be a whole number of km/h in [0, %d], got %v", MaxSpeedLimitKPH, *s)
		} else {
			r.MaxSpeedKPH, r.HasMaxSpeed = int(*s), true
		}
	}
	if w.StationParking != nil {
		r.StationParking, r.HasStationParking = *w.StationParking, true
	}
	return r, len(l.probs.list) == before
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// window validates one schedule window.
func (l *loader) window(i int, path string, w *wireWindow) (Window, bool) {
	before := len(l.probs.list)
	out := Window{Days: AllDays}
	if w.Days != nil {
		if len(w.Days) == 0 {
			l.probs.add(i, path+".days", "empty: omit days to mean every day")
		}
		out.Days = 0
		for k, d := range w.Days {
			wd, ok := dayNames[strings.ToLower(d)]
			if !ok {
				l.probs.add(i, fmt.Sprintf("%s.days[%d]", path, k), "unknown day %q (want mon, tue, wed, thu, fri, sat, sun)", d)
				continue
			}
			out.Days |= 1 << uint(wd)
		}
	}
	clock := func(field string, s *string, allow24 bool) time.Duration {
		if s == nil {
			l.probs.add(i, path+"."+field, "required (HH:MM local time)")
			return 0
		}
		d, ok := parseClock(*s, allow24)
		if !ok {
			l.probs.add(i, path+"."+field, "%q is not a local time HH:MM between 00:00 and 24:00", *s)
		}
		return d
	}
	out.From = clock("from", w.From, false)
	out.To = clock("to", w.To, true)
	if len(l.probs.list) == before && out.From == out.To {
		l.probs.add(i, path, "from and to are both %s: use 00:00 to 24:00 for the whole day", *w.From)
	}
	return out, len(l.probs.list) == before
}

// parseClock parses "HH:MM"; "24:00" only when allow24.
func parseClock(s string, allow24 bool) (time.Duration, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '-' || s[0] == '+' || s[3] == '-' || s[3] == '+' || m < 0 || m > 59 || h < 0 {
		return 0, false
	}
	if h == 24 && m == 0 && allow24 {
		return 24 * time.Hour, true
	}
	if h > 23 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

func cloneRules(rules []Rule) []Rule {
	if rules == nil {
		return nil
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.VehicleTypeIDs = append([]string(nil), r.VehicleTypeIDs...)
		out[i] = r
	}
	return out
}
