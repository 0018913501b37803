package zone

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	okRing    = `[[0,0],[1,0],[1,1],[0,1],[0,0]]`
	okGeom    = `{"type":"MultiPolygon","coordinates":[[` + okRing + `]]}`
	okRule    = `{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true}`
	okProps   = `{"name":[{"text":"Z","language":"en"}],"rules":[` + okRule + `]}`
	okFeature = `{"type":"Feature","geometry":` + okGeom + `,"properties":` + okProps + `}`
	okGlobal  = `[{"ride_start_allowed":false,"ride_end_allowed":false,"ride_through_allowed":true}]`
)

// doc wraps features (a JSON array body) and global rules in a GBFS v3.0
// document.
func doc(features, global string) string {
	return `{"last_updated":"2026-11-25T12:00:00Z","ttl":60,"version":"3.0","data":{` +
		`"geofencing_zones":{"type":"FeatureCollection","features":[` + features + `]},` +
		`"global_rules":` + global + `}}`
}

// feature builds a feature with the given geometry and properties JSON.
func feature(geom, props string) string {
	return `{"type":"Feature","geometry":` + geom + `,"properties":` + props + `}`
}

func geomOf(rings ...string) string {
	return `{"type":"MultiPolygon","coordinates":[[` + strings.Join(rings, ",") + `]]}`
}

func propsWithRule(rule string) string { return `{"rules":[` + rule + `]}` }

func TestLoadMinimal(t *testing.T) {
	s, err := Load([]byte(doc(okFeature+","+okFeature, okGlobal)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	// Features without rules, name or any extension are fine; ids may be
	// numbers; no features at all is fine; an empty global_rules is fine.
	for _, d := range []string{
		doc(feature(okGeom, `{}`), okGlobal),
		doc(`{"type":"Feature","id":7,"geometry":`+okGeom+`,"properties":{}}`, `[]`),
		doc(``, `[]`),
		doc(feature(okGeom, `{"rules":[{"vehicle_type_ids":["x"],"ride_start_allowed":true,"ride_end_allowed":false,"ride_through_allowed":true,"maximum_speed_kph":0,"station_parking":true}]}`), okGlobal),
		// Altitude in positions is ignored; version 3.1-RC3 is accepted.
		strings.Replace(doc(feature(geomOf(`[[0,0,5],[1,0,5],[1,1,5],[0,1,5],[0,0,5]]`), `{}`), okGlobal), `"3.0"`, `"3.1-RC3"`, 1),
	} {
		if _, err := Load([]byte(d), Options{}); err != nil {
			t.Errorf("Load(%s): %v", d, err)
		}
	}
	s, err = Load([]byte(doc(`{"type":"Feature","id":7,"geometry":`+okGeom+`,"properties":{}}`, `[]`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup("7"); !ok {
		t.Error("numeric feature id not found as \"7\"")
	}
}

func TestLoadValidation(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		feature int
		field   string // want ValidationError.Field
		msg     string // substring of Msg
	}{
		{"not JSON", `{"last_updated":`, -1, "", "not valid JSON"},
		{"top level array", `[1,2]`, -1, "", "wrong JSON type"},
		{"null", `null`, -1, "", "must be a JSON object"},
		{"missing last_updated", `{"ttl":1,"version":"3.0","data":{"geofencing_zones":{"type":"FeatureCollection","features":[]},"global_rules":[]}}`,
			-1, "last_updated", "required"},
		{"POSIX last_updated (v2)", strings.Replace(doc(``, `[]`), `"2026-11-25T12:00:00Z"`, `1434054678`, 1),
			-1, "last_updated", "RFC 3339"},
		{"bad last_updated", strings.Replace(doc(``, `[]`), `2026-11-25T12:00:00Z`, `yesterday`, 1),
			-1, "last_updated", "not an RFC 3339"},
		{"negative ttl", strings.Replace(doc(``, `[]`), `"ttl":60`, `"ttl":-1`, 1), -1, "ttl", "non-negative integer"},
		{"fractional ttl", strings.Replace(doc(``, `[]`), `"ttl":60`, `"ttl":1.5`, 1), -1, "ttl", "non-negative integer"},
		{"version 2.3", strings.Replace(doc(``, `[]`), `"3.0"`, `"2.3"`, 1), -1, "version", "not supported"},
		{"version number", strings.Replace(doc(``, `[]`), `"3.0"`, `3`, 1), -1, "version", "must be a string"},
		{"missing data", `{"last_updated":"2026-11-25T12:00:00Z","ttl":1,"version":"3.0"}`, -1, "data", "required"},
		{"missing geofencing_zones", `{"last_updated":"2026-11-25T12:00:00Z","ttl":1,"version":"3.0","data":{"global_rules":[]}}`,
			-1, "data.geofencing_zones", "required"},
		{"missing global_rules", `{"last_updated":"2026-11-25T12:00:00Z","ttl":1,"version":"3.0","data":{"geofencing_zones":{"type":"FeatureCollection","features":[]}}}`,
			-1, "data.global_rules", "required"},
		{"global rule without ride_end_allowed", doc(``, `[{"ride_start_allowed":false,"ride_through_allowed":true}]`),
			-1, "data.global_rules[0].ride_end_allowed", "required"},
		{"global rule speed too high", doc(``, `[{"ride_start_allowed":false,"ride_end_allowed":false,"ride_through_allowed":true,"maximum_speed_kph":101}]`),
			-1, "data.global_rules[0].maximum_speed_kph", "[0, 100]"},
		{"collection type", strings.Replace(doc(``, `[]`), `"FeatureCollection"`, `"Feature"`, 1),
			-1, "data.geofencing_zones.type", `must be "FeatureCollection"`},
		{"features not an array", `{"last_updated":"2026-11-25T12:00:00Z","ttl":1,"version":"3.0","data":{"geofencing_zones":{"type":"FeatureCollection","features":{}},"global_rules":[]}}`,
			-1, "data.geofencing_zones.features", "wrong JSON type"},
		{"features missing", `{"last_updated":"2026-11-25T12:00:00Z","ttl":1,"version":"3.0","data":{"geofencing_zones":{"type":"FeatureCollection"},"global_rules":[]}}`,
			-1, "data.geofencing_zones.features", "required"},
		{"feature type", doc(okFeature+`,{"type":"Point","geometry":`+okGeom+`,"properties":{}}`, `[]`), 1, "type", `must be "Feature"`},
		{"feature not an object", doc(okFeature+`,42`, `[]`), 1, "", "wrong JSON type"},
		{"geometry missing", doc(`{"type":"Feature","properties":{}}`, `[]`), 0, "geometry", "required"},
		{"properties missing", doc(`{"type":"Feature","geometry":`+okGeom+`}`, `[]`), 0, "properties", "required"},
		{"Polygon geometry", doc(feature(`{"type":"Polygon","coordinates":[`+okRing+`]}`, `{}`), `[]`),
			0, "geometry.type", `must be "MultiPolygon"`},
		{"no polygons", doc(feature(`{"type":"MultiPolygon","coordinates":[]}`, `{}`), `[]`),
			0, "geometry.coordinates", "at least one polygon"},
		{"polygon without rings", doc(feature(`{"type":"MultiPolygon","coordinates":[[]]}`, `{}`), `[]`),
			0, "geometry.coordinates[0]", "exterior ring"},
		{"ring not closed", doc(okFeature+","+feature(geomOf(`[[0,0],[1,0],[1,1],[0,1],[0,0.5]]`), `{}`), `[]`),
			1, "geometry.coordinates[0][0]", "not closed"},
		{"ring of 3 positions", doc(feature(geomOf(`[[0,0],[1,0],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates[0][0]", "needs at least 4"},
		{"hole not closed", doc(feature(geomOf(okRing, `[[0.2,0.2],[0.2,0.4],[0.4,0.4],[0.4,0.2],[0.2,0.3]]`), `{}`), `[]`),
			0, "geometry.coordinates[0][1]", "not closed"},
		{"longitude out of range", doc(feature(geomOf(`[[0,0],[181,0],[1,1],[0,1],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates[0][0][1]", "longitude 181"},
		{"latitude out of range", doc(feature(geomOf(`[[0,0],[1,0],[1,-91],[0,1],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates[0][0][2]", "latitude -91"},
		{"position with one number", doc(feature(geomOf(`[[0,0],[1],[1,1],[0,1],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates[0][0][1]", "longitude and latitude"},
		{"coordinate not a number", doc(feature(geomOf(`[[0,0],[1,"a"],[1,1],[0,1],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates", "wrong JSON type"},
		{"coordinate overflows float64", doc(feature(geomOf(`[[0,0],[1e400,0],[1,1],[0,1],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates", "wrong JSON type"},
		{"zero-area ring", doc(feature(geomOf(`[[0,0],[1,1],[2,2],[1,1],[0,0]]`), `{}`), `[]`),
			0, "geometry.coordinates[0][0]", "no area"},
		{"rule without ride_start_allowed", doc(feature(okGeom, propsWithRule(`{"ride_end_allowed":true,"ride_through_allowed":true}`)), `[]`),
			0, "properties.rules[0].ride_start_allowed", "required"},
		{"second rule without ride_through_allowed", doc(feature(okGeom, `{"rules":[`+okRule+`,{"ride_start_allowed":true,"ride_end_allowed":true}]}`), `[]`),
			0, "properties.rules[1].ride_through_allowed", "required"},
		{"rule boolean as string", doc(feature(okGeom, propsWithRule(`{"ride_start_allowed":"yes","ride_end_allowed":true,"ride_through_allowed":true}`)), `[]`),
			0, "properties.rules.ride_start_allowed", "want boolean"},
		{"speed 120", doc(feature(okGeom, propsWithRule(`{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true,"maximum_speed_kph":120}`)), `[]`),
			0, "properties.rules[0].maximum_speed_kph", "[0, 100]"},
		{"negative speed", doc(feature(okGeom, propsWithRule(`{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true,"maximum_speed_kph":-5}`)), `[]`),
			0, "properties.rules[0].maximum_speed_kph", "[0, 100]"},
		{"fractional speed", doc(feature(okGeom, propsWithRule(`{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true,"maximum_speed_kph":12.5}`)), `[]`),
			0, "properties.rules[0].maximum_speed_kph", "whole number"},
		{"empty vehicle_type_ids", doc(feature(okGeom, propsWithRule(`{"vehicle_type_ids":[],"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true}`)), `[]`),
			0, "properties.rules[0].vehicle_type_ids", "omit vehicle_type_ids"},
		{"rules not an array", doc(feature(okGeom, `{"rules":{}}`), `[]`), 0, "properties.rules", "wrong JSON type"},
		{"name as plain string (v2)", doc(feature(okGeom, `{"name":"Zone"}`), `[]`), 0, "properties.name", "plain string"},
		{"name without language", doc(feature(okGeom, `{"name":[{"text":"Z"}]}`), `[]`), 0, "properties.name[0].language", "required"},
		{"bad language", doc(feature(okGeom, `{"name":[{"text":"Z","language":"english"}]}`), `[]`), 0, "properties.name[0].language", "not a language code"},
		{"bad start", doc(feature(okGeom, `{"start":"2026-13-01T00:00:00Z"}`), `[]`), 0, "properties.start", "RFC 3339"},
		{"end before start", doc(feature(okGeom, `{"start":"2026-12-01T00:00:00Z","end":"2026-11-01T00:00:00Z"}`), `[]`),
			0, "properties.end", "not after start"},
		{"unknown kind", doc(feature(okGeom, `{"fleetedge":{"kind":"lava"}}`), `[]`), 0, "properties.fleetedge.kind", `unknown kind "lava"`},
		{"extension not an object", doc(feature(okGeom, `{"fleetedge":true}`), `[]`), 0, "properties.fleetedge", "wrong JSON type"},
		{"bad day", doc(feature(okGeom, `{"fleetedge":{"schedule":[{"days":["mon","funday"],"from":"08:00","to":"10:00"}]}}`), `[]`),
			0, "properties.fleetedge.schedule[0].days[1]", `unknown day "funday"`},
		{"bad from", doc(feature(okGeom, `{"fleetedge":{"schedule":[{"from":"25:00","to":"10:00"}]}}`), `[]`),
			0, "properties.fleetedge.schedule[0].from", "HH:MM"},
		{"24:00 as from", doc(feature(okGeom, `{"fleetedge":{"schedule":[{"from":"24:00","to":"10:00"}]}}`), `[]`),
			0, "properties.fleetedge.schedule[0].from", "HH:MM"},
		{"missing to", doc(feature(okGeom, `{"fleetedge":{"schedule":[{"from":"08:00"}]}}`), `[]`),
			0, "properties.fleetedge.schedule[0].to", "required"},
		{"from equals to", doc(feature(okGeom, `{"fleetedge":{"schedule":[{"from":"08:00","to":"08:00"}]}}`), `[]`),
			0, "properties.fleetedge.schedule[0]", "00:00 to 24:00"},
		{"empty schedule", doc(feature(okGeom, `{"fleetedge":{"schedule":[]}}`), `[]`),
			0, "properties.fleetedge.schedule", "never be active"},
		{"duplicate id", doc(`{"type":"Feature","id":"a","geometry":`+okGeom+`,"properties":{}},{"type":"Feature","id":"a","geometry":`+okGeom+`,"properties":{}}`, `[]`),
			1, "id", `already used by feature 0`},
		{"id object", doc(`{"type":"Feature","id":{},"geometry":`+okGeom+`,"properties":{}}`, `[]`), 0, "id", "string or a number"},
		{"unknown timezone", strings.Replace(doc(``, `[]`), `"global_rules"`, `"fleetedge":{"timezone":"Mars/Olympus"},"global_rules"`, 1),
			-1, "data.fleetedge.timezone", "unknown time zone"},
		{"Local timezone", strings.Replace(doc(``, `[]`), `"global_rules"`, `"fleetedge":{"timezone":"Local"},"global_rules"`, 1),
			-1, "data.fleetedge.timezone", "IANA"},
		{"bare collection, bad feature", `{"type":"FeatureCollection","features":[` + okFeature + `,` + feature(geomOf(`[[0,0],[1,0],[0,0]]`), `{}`) + `]}`,
			1, "geometry.coordinates[0][0]", "needs at least 4"},
		{"bare collection, wrong type", `{"type":"Topology","features":[]}`, -1, "type", `must be "FeatureCollection"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load([]byte(tc.input), Options{})
			if err == nil {
				t.Fatalf("Load succeeded (%d zones), want an error", s.Len())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v has no *ValidationError", err)
			}
			all := ValidationErrors(err)
			if len(all) == 0 || all[0] != ve {
				t.Errorf("ValidationErrors = %v, first should be %v", all, ve)
			}
			if ve.Feature != tc.feature || ve.Field != tc.field || !strings.Contains(ve.Msg, tc.msg) {
				t.Errorf("got feature %d field %q msg %q\nwant feature %d field %q msg containing %q",
					ve.Feature, ve.Field, ve.Msg, tc.feature, tc.field, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "zone: load: ") {
				t.Errorf("error text %q lacks the operation prefix", err)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	bad := feature(geomOf(`[[0,0],[1,0],[0,0]]`), `{}`)
	input := doc(okFeature+","+bad+","+okFeature+","+bad, `[{"ride_start_allowed":true}]`)
	_, err := Load([]byte(input), Options{})
	got := ValidationErrors(err)
	var where []string
	for _, ve := range got {
		where = append(where, fmt.Sprintf("%d:%s", ve.Feature, ve.Field))
	}
	want := []string{
		"-1:data.global_rules[0].ride_end_allowed",
		"-1:data.global_rules[0].ride_through_allowed",
		"1:geometry.coordinates[0][0]",
		"3:geometry.coordinates[0][0]",
	}
	if strings.Join(where, " ") != strings.Join(want, " ") {
		t.Errorf("problems at %v, want %v", where, want)
	}
	if !strings.Contains(err.Error(), "feature 3: geometry.coordinates[0][0]: ring has 3 positions") {
		t.Errorf("error text: %v", err)
	}

	// The number of problems reported is bounded.
	many := strings.Repeat(bad+",", 200) + bad
	_, err = Load([]byte(doc(many, `[]`)), Options{})
	if n := len(ValidationErrors(err)); n != maxProblems+1 {
		t.Errorf("%d problems reported, want %d", n, maxProblems+1)
	}
}

func TestLegacyVehicleTypeID(t *testing.T) {
	rule := func(field string) string {
		return `{"` + field + `":["scooter"],"ride_start_allowed":false,"ride_end_allowed":false,"ride_through_allowed":false}`
	}
	for _, tc := range []struct {
		name     string
		rule     string
		warnings int
	}{
		{"v3 name", rule("vehicle_type_ids"), 0},
		{"v2 name", rule("vehicle_type_id"), 1},
		{"both: v3 wins", `{"vehicle_type_ids":["scooter"],"vehicle_type_id":["bike"],"ride_start_allowed":false,"ride_end_allowed":false,"ride_through_allowed":false}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load([]byte(doc(feature(okGeom, propsWithRule(tc.rule)), `[]`)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Warnings()) != tc.warnings {
				t.Errorf("warnings %q, want %d", s.Warnings(), tc.warnings)
			}
			p := [2]float64{0.5, 0.5}
			if v := s.Evaluate(p, "scooter", parisNow); v.RideThroughAllowed || v.RulesFrom != 0 {
				t.Errorf("scooter: %+v, want zone 0's rule", v)
			}
			if v := s.Evaluate(p, "bike", parisNow); !v.RideThroughAllowed || v.RulesFrom != SourceNone {
				t.Errorf("bike: %+v, want no rule", v)
			}
		})
	}
}
