package citycfg

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// env is the admin API on a fresh database with this area registered.
type env struct {
	*adminapitest.Env
	svc *Service
}

// newEnv registers the area; down is the downlink (nil: none, as in role api).
func newEnv(t *testing.T, down Publisher) *env {
	t.Helper()
	return newEnvFunc(t, func() Publisher { return down })
}

// newEnvFunc registers the area with a downlink getter.
func newEnvFunc(t *testing.T, down func() Publisher) *env {
	t.Helper()
	e := adminapitest.New(t)
	svc, err := New(Config{DB: e.DB.Pool, Downlink: down, Now: e.Clock.Now, Log: e.Log, RetryInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	Register(e.API, svc)
	return &env{Env: e, svc: svc}
}

// must sends a request as the super admin and fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any) adminapitest.Response {
	e.T.Helper()
	r := e.Do(method, path, e.SuperToken, body)
	if r.Status != want {
		e.T.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// actions lists the audit actions for a target, oldest first.
func (e *env) actions(targetType, targetID string) []string {
	e.T.Helper()
	var out []string
	recs := e.Audit(audit.Filter{TargetType: targetType, TargetID: targetID, Limit: 500})
	for i := len(recs) - 1; i >= 0; i-- {
		out = append(out, recs[i].Action)
	}
	return out
}

// square is a GBFS document with one square zone (side ~d degrees at lon, lat) limiting
// speed to kph; id names the zone.
func square(id string, lon, lat, d float64, kph int) string {
	return fmt.Sprintf(`{"last_updated":"2026-11-25T00:00:00Z","ttl":60,"version":"3.0","data":{"geofencing_zones":{"type":"FeatureCollection","features":[
		{"type":"Feature","id":%q,"geometry":{"type":"MultiPolygon","coordinates":[[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]]},
		 "properties":{"rules":[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true,"maximum_speed_kph":%d}]}}]},
		"global_rules":[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true}]}}`,
		id, lon, lat, lon+d, lat, lon+d, lat+d, lon, lat+d, lon, lat, kph)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hashOf(i int) string { return "sha256:" + strings.Repeat(fmt.Sprintf("%x", i%16), 64) }

func auditFilter(action, target string) audit.Filter {
	return audit.Filter{Action: action, TargetID: target, Limit: 500}
}
