package exports_test

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/analytics/analyticstest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/exports"
)

var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

type fixture struct {
	env     *adminapitest.Env
	token   string
	ana     string
	rides   []string // oldest first
	payment []string
}

func newFixture(t *testing.T, maxRows int) *fixture {
	t.Helper()
	env := adminapitest.New(t)
	pool := env.DB.Pool
	f := &fixture{env: env}
	bcn := analyticstest.City(t, pool, "bcn", "EUR")
	mad := analyticstest.City(t, pool, "mad", "EUR")
	v1 := analyticstest.Vehicle(t, pool, bcn, "V1", "available")
	analyticstest.Vehicle(t, pool, bcn, "V2", "maintenance")
	m1 := analyticstest.Vehicle(t, pool, mad, "M1", "lost")
	f.ana = analyticstest.Rider(t, pool, "Ana", "Ruiz", "ana@example.com", "active", t0)
	bob := analyticstest.Rider(t, pool, "Bob", "Li", "bob@example.com", "suspended", t0.Add(time.Hour))
	for i := range 4 {
		f.rides = append(f.rides, analyticstest.InsertRide(t, pool, analyticstest.Ride{Rider: f.ana, Vehicle: v1, City: bcn,
			Start: t0.Add(time.Duration(i) * time.Hour), End: t0.Add(time.Duration(i)*time.Hour + 10*time.Minute),
			Fare: int64(100 + i), DistanceM: int64(1000 * i), StartLat: 41.38, StartLon: 2.17, EndLat: 41.39, EndLon: 2.18}))
	}
	f.rides = append(f.rides, analyticstest.InsertRide(t, pool, analyticstest.Ride{Rider: bob, Vehicle: m1, City: mad,
		Start: t0, StartLat: 40.4, StartLon: -3.7}))
	f.payment = append(f.payment,
		analyticstest.InsertPayment(t, pool, analyticstest.Payment{Rider: f.ana, Amount: 1000, Created: t0}),
		analyticstest.InsertPayment(t, pool, analyticstest.Payment{Rider: bob, Amount: 700, Status: "failed", Created: t0.Add(time.Hour)}))
	if err := exports.Register(env.API, exports.Deps{PG: pool, MaxRows: maxRows, TmpDir: t.TempDir(), Now: env.Clock.Now}); err != nil {
		t.Fatal(err)
	}
	f.token, _ = env.TokenWith("exports.create")
	return f
}

// sheet downloads an export and reads it back with excelize.
func (f *fixture) sheet(t *testing.T, path string) (string, [][]string) {
	t.Helper()
	r := f.env.Do("GET", adminapi.Prefix+path, f.token, nil)
	if r.Status != 200 {
		t.Fatalf("%s: %d %s", path, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != exports.ContentType {
		t.Fatalf("content type %q", ct)
	}
	cd := r.Header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, `attachment; filename="`) || !strings.HasSuffix(cd, `.xlsx"`) {
		t.Fatalf("content disposition %q", cd)
	}
	x, err := excelize.OpenReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("%s: not a workbook: %v", path, err)
	}
	defer x.Close() //nolint:errcheck // read-only
	sheets := x.GetSheetList()
	if len(sheets) != 1 {
		t.Fatalf("sheets %v", sheets)
	}
	rows, err := x.GetRows(sheets[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("X-Export-Rows"); got != fmt.Sprint(len(rows)-1) {
		t.Fatalf("X-Export-Rows %s for %d data rows", got, len(rows)-1)
	}
	return sheets[0], rows
}

func col(rows [][]string, name string) []string {
	i := slices.Index(rows[0], name)
	var out []string
	for _, r := range rows[1:] {
		if i < len(r) {
			out = append(out, r[i])
		} else {
			out = append(out, "")
		}
	}
	return out
}

func TestExports(t *testing.T) {
	f := newFixture(t, 0)
	ts := func(d time.Duration) string { return url.QueryEscape(t0.Add(d).Format(time.RFC3339)) }

	t.Run("rides", func(t *testing.T) {
		name, rows := f.sheet(t, "/exports/rides?city=bcn&from="+ts(time.Hour))
		if name != "rides" {
			t.Fatalf("sheet %q", name)
		}
		wantHead := []string{"id", "city", "vehicle", "rider_id", "rider_email", "state", "started_at (UTC)", "ended_at (UTC)",
			"distance_m", "fare_minor", "currency", "start_lat", "start_lon", "end_lat", "end_lon"}
		if !slices.Equal(rows[0], wantHead) {
			t.Fatalf("header %v", rows[0])
		}
		if got := col(rows, "id"); !slices.Equal(got, []string{f.rides[3], f.rides[2], f.rides[1]}) {
			t.Fatalf("ids %v", got)
		}
		want := []string{f.rides[3], "bcn", "V1", f.ana, "ana@example.com", "ended", "2026-06-01 11:00:00", "2026-06-01 11:10:00",
			"3000", "103", "EUR", "41.38", "2.17", "41.39", "2.18"}
		if !slices.Equal(rows[1], want) {
			t.Fatalf("row %v\nwant %v", rows[1], want)
		}
		_, rows = f.sheet(t, "/exports/rides?city=mad")
		if len(rows) != 2 || col(rows, "state")[0] != "active" || col(rows, "ended_at (UTC)")[0] != "" || col(rows, "fare_minor")[0] != "" {
			t.Fatalf("open ride %v", rows)
		}
	})
	t.Run("payments", func(t *testing.T) {
		_, rows := f.sheet(t, "/exports/payments?status=failed")
		if len(rows) != 2 || col(rows, "id")[0] != f.payment[1] || col(rows, "amount_minor")[0] != "700" ||
			col(rows, "rider_email")[0] != "bob@example.com" {
			t.Fatalf("payments %v", rows)
		}
		_, rows = f.sheet(t, "/exports/payments")
		if got := col(rows, "id"); !slices.Equal(got, []string{f.payment[1], f.payment[0]}) {
			t.Fatalf("all payments %v", got)
		}
	})
	t.Run("riders", func(t *testing.T) {
		_, rows := f.sheet(t, "/exports/riders?q=an")
		if got := col(rows, "email"); !slices.Equal(got, []string{"ana@example.com"}) {
			t.Fatalf("riders %v", got)
		}
		_, rows = f.sheet(t, "/exports/riders?status=suspended")
		if got := col(rows, "email"); !slices.Equal(got, []string{"bob@example.com"}) {
			t.Fatalf("suspended %v", got)
		}
	})
	t.Run("vehicles", func(t *testing.T) {
		_, rows := f.sheet(t, "/exports/vehicles?city=bcn")
		if got := col(rows, "number"); !slices.Equal(got, []string{"V1", "V2"}) {
			t.Fatalf("vehicles %v", got)
		}
		_, rows = f.sheet(t, "/exports/vehicles?status=lost")
		if got := col(rows, "number"); !slices.Equal(got, []string{"M1"}) || col(rows, "city")[0] != "mad" {
			t.Fatalf("lost %v", rows)
		}
	})
	t.Run("audit", func(t *testing.T) {
		// Every export so far is in the log, newest first, with its filters.
		_, rows := f.sheet(t, "/exports/audit?action=export.create")
		if len(rows) < 9 {
			t.Fatalf("%d export entries", len(rows)-1)
		}
		if got := col(rows, "target_id")[0]; got != "vehicles" {
			t.Fatalf("newest export entry is %q", got)
		}
		if d := col(rows, "details")[0]; !strings.Contains(d, `"status": "lost"`) && !strings.Contains(d, `"status":"lost"`) {
			t.Fatalf("details %s", d)
		}
		entries := f.env.Audit(audit.Filter{Action: "export.create", Limit: 1})
		if len(entries) != 1 || entries[0].TargetID != "audit" || entries[0].AdminEmail == "" {
			t.Fatalf("audit entry of the audit export %+v", entries)
		}
	})
	t.Run("bad filters", func(t *testing.T) {
		for _, p := range []string{"/exports/rides?rider=x", "/exports/payments?status=nope", "/exports/audit?action=BAD",
			"/exports/rides?from=" + ts(time.Hour) + "&to=" + ts(0)} {
			if r := f.env.Do("GET", adminapi.Prefix+p, f.token, nil); r.Status != 422 || r.Code() != adminapi.CodeInvalidRequest {
				t.Errorf("%s: %d %s", p, r.Status, r.Body)
			}
		}
	})
	t.Run("permissions", func(t *testing.T) {
		var routes []adminapi.Route
		for _, r := range f.env.API.Routes() {
			if strings.HasPrefix(r.OperationID, "export-") {
				routes = append(routes, r)
			}
		}
		if len(routes) != 5 {
			t.Fatalf("%d export routes", len(routes))
		}
		adminapitest.CheckAccess(t, f.env, routes, nil)
		reader, _ := f.env.TokenWith("riders.read", "payments.read", "audit.read")
		if r := f.env.Do("GET", adminapi.Prefix+"/exports/riders", reader, nil); r.Status != 403 {
			t.Errorf("export without exports.create: %d", r.Status)
		}
	})
}

func TestExportBound(t *testing.T) {
	f := newFixture(t, 4)
	if _, rows := f.sheet(t, "/exports/rides?city=bcn"); len(rows) != 5 {
		t.Fatalf("%d rows at the bound", len(rows))
	}
	r := f.env.Do("GET", adminapi.Prefix+"/exports/rides", f.token, nil)
	if r.Status != 422 || r.Code() != adminapi.CodeInvalidRequest || !strings.Contains(string(r.Body), "narrow the filters") {
		t.Fatalf("past the bound: %d %s", r.Status, r.Body)
	}
	if n := len(f.env.Audit(audit.Filter{Action: "export.create"})); n != 1 {
		t.Fatalf("%d export entries, want 1 (the refused export is not recorded)", n)
	}
}
