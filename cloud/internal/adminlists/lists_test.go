package adminlists_test

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/adminlists"
	"github.com/fleetedge/fleetedge/cloud/internal/analytics/analyticstest"
)

var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

type fixture struct {
	env          *adminapitest.Env
	ana, bob     string // rider ids
	rides        []string
	bcnRides     []string // newest first
	payments     []string
	tokenRiders  string
	tokenPayment string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := adminapitest.New(t)
	pool := env.DB.Pool
	f := &fixture{env: env}
	bcn := analyticstest.City(t, pool, "bcn", "EUR")
	mad := analyticstest.City(t, pool, "mad", "EUR")
	v1 := analyticstest.Vehicle(t, pool, bcn, "V1", "available")
	v2 := analyticstest.Vehicle(t, pool, bcn, "V2", "maintenance")
	m1 := analyticstest.Vehicle(t, pool, mad, "M1", "available")
	f.ana = analyticstest.Rider(t, pool, "Ana", "Ruiz", "ana.ruiz@example.com", "active", t0)
	f.bob = analyticstest.Rider(t, pool, "Bob", "Anders_on", "bob@example.org", "suspended", t0.Add(time.Hour))
	analyticstest.Rider(t, pool, "Carla", "Vidal", "carla@example.com", "active", t0.Add(2*time.Hour))
	// 7 rides of Ana in bcn (V1/V2 alternating, one per hour), one open; 1 ride of Bob in mad.
	for i := range 7 {
		v := v1
		if i%2 == 1 {
			v = v2
		}
		r := analyticstest.Ride{Rider: f.ana, Vehicle: v, City: bcn, Start: t0.Add(time.Duration(i) * time.Hour),
			Fare: int64(100 + i), DistanceM: 1000, StartLat: 41.38, StartLon: 2.17, EndLat: 41.39, EndLon: 2.18}
		if i != 6 {
			r.End = r.Start.Add(10 * time.Minute)
		}
		id := analyticstest.InsertRide(t, pool, r)
		f.rides = append(f.rides, id)
		f.bcnRides = append([]string{id}, f.bcnRides...)
	}
	f.rides = append(f.rides, analyticstest.InsertRide(t, pool, analyticstest.Ride{Rider: f.bob, Vehicle: m1, City: mad,
		Start: t0.Add(30 * time.Minute), End: t0.Add(40 * time.Minute), Fare: 500, StartLat: 40.4, StartLon: -3.7, NoEndPos: true}))
	for _, p := range []analyticstest.Payment{
		{Rider: f.ana, Amount: 1000, Created: t0},
		{Rider: f.ana, Amount: 101, Purpose: "ride", Method: "balance", RideID: f.rides[1], Created: t0.Add(time.Hour)},
		{Rider: f.bob, Amount: 2000, Status: "failed", Created: t0.Add(2 * time.Hour)},
		{Rider: f.bob, Amount: 500, Status: "refunded", Purpose: "refund", Created: t0.Add(3 * time.Hour)},
	} {
		f.payments = append(f.payments, analyticstest.InsertPayment(t, pool, p))
	}
	if err := adminlists.Register(env.API, adminlists.Deps{PG: pool}); err != nil {
		t.Fatal(err)
	}
	f.tokenRiders, _ = env.TokenWith("riders.read")
	f.tokenPayment, _ = env.TokenWith("payments.read")
	return f
}

func TestRidesListPaging(t *testing.T) {
	f := newFixture(t)
	var got []string
	cursor := ""
	pages := 0
	for {
		path := adminapi.Prefix + "/rides?city=bcn&limit=3"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := f.env.Do("GET", path, f.tokenRiders, nil)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		var p adminlists.RidePage
		r.JSON(t, &p)
		for _, it := range p.Rides {
			got = append(got, it.ID)
		}
		pages++
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, f.bcnRides) || pages != 3 {
		t.Fatalf("paged %v in %d pages, want %v", got, pages, f.bcnRides)
	}
}

func TestListFilters(t *testing.T) {
	f := newFixture(t)
	ids := func(path, token string) []string {
		t.Helper()
		r := f.env.Do("GET", adminapi.Prefix+path, token, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		var out []string
		switch {
		case strings.HasPrefix(path, "/rides"):
			var p adminlists.RidePage
			r.JSON(t, &p)
			for _, x := range p.Rides {
				out = append(out, x.ID)
			}
		case strings.HasPrefix(path, "/payments"):
			var p adminlists.PaymentPage
			r.JSON(t, &p)
			for _, x := range p.Payments {
				out = append(out, x.ID)
			}
		default:
			var p adminlists.RiderPage
			r.JSON(t, &p)
			for _, x := range p.Riders {
				out = append(out, x.Email)
			}
		}
		return out
	}
	ts := func(d time.Duration) string { return url.QueryEscape(t0.Add(d).Format(time.RFC3339)) }
	for _, tc := range []struct {
		path  string
		token string
		want  []string
	}{
		{"/rides?vehicle=V2", f.tokenRiders, []string{f.rides[5], f.rides[3], f.rides[1]}},
		{"/rides?state=active", f.tokenRiders, []string{f.rides[6]}},
		{"/rides?rider=" + f.bob, f.tokenRiders, []string{f.rides[7]}},
		{"/rides?city=mad", f.tokenRiders, []string{f.rides[7]}},
		{"/rides?from=" + ts(time.Hour) + "&to=" + ts(3*time.Hour), f.tokenRiders, []string{f.rides[2], f.rides[1]}},
		{"/rides?city=bcn&vehicle=V1&state=ended&from=" + ts(2*time.Hour), f.tokenRiders, []string{f.rides[4], f.rides[2]}},
		{"/payments?rider=" + f.ana, f.tokenPayment, []string{f.payments[1], f.payments[0]}},
		{"/payments?status=failed", f.tokenPayment, []string{f.payments[2]}},
		{"/payments?purpose=ride&method=balance", f.tokenPayment, []string{f.payments[1]}},
		{"/payments?from=" + ts(2*time.Hour), f.tokenPayment, []string{f.payments[3], f.payments[2]}},
		{"/riders", f.tokenRiders, []string{"carla@example.com", "bob@example.org", "ana.ruiz@example.com"}},
		{"/riders?q=ANA", f.tokenRiders, []string{"ana.ruiz@example.com"}},
		{"/riders?q=ana%20r", f.tokenRiders, []string{"ana.ruiz@example.com"}},
		{"/riders?q=anders_", f.tokenRiders, []string{"bob@example.org"}},
		{"/riders?q=anders%25", f.tokenRiders, nil}, // % is literal, not a wildcard
		{"/riders?q=ruiz", f.tokenRiders, []string{"ana.ruiz@example.com"}},
		{"/riders?status=suspended", f.tokenRiders, []string{"bob@example.org"}},
		{"/riders?status=active&from=" + ts(time.Hour), f.tokenRiders, []string{"carla@example.com"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := ids(tc.path, tc.token); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("item fields", func(t *testing.T) {
		var p adminlists.RidePage
		f.env.Do("GET", adminapi.Prefix+"/rides?rider="+f.bob, f.tokenRiders, nil).JSON(t, &p)
		r := p.Rides[0]
		if r.City != "mad" || r.Vehicle != "M1" || r.RiderEmail != "bob@example.org" || r.State != "ended" || r.FareMinor == nil ||
			*r.FareMinor != 500 || r.EndedAt == nil || r.EndLat != nil || r.Currency != "EUR" {
			t.Fatalf("%+v", r)
		}
		var o adminlists.RidePage
		f.env.Do("GET", adminapi.Prefix+"/rides?state=active", f.tokenRiders, nil).JSON(t, &o)
		if o.Rides[0].FareMinor != nil || o.Rides[0].EndedAt != nil {
			t.Fatalf("open ride %+v", o.Rides[0])
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, path := range []string{"/rides?rider=nope", "/rides?state=flying", "/rides?limit=0", "/rides?limit=501",
			"/rides?cursor=k1.xyz", "/rides?cursor=abc", "/rides?from=" + ts(time.Hour) + "&to=" + ts(0), "/rides?city=B%20C"} {
			if r := f.env.Do("GET", adminapi.Prefix+path, f.tokenRiders, nil); r.Status != 422 || r.Code() != adminapi.CodeInvalidRequest {
				t.Errorf("%s: %d %s", path, r.Status, r.Body)
			}
		}
	})
}

func TestEachBoundAndBalances(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	var n int
	got, err := adminlists.EachRide(ctx, f.env.DB.Pool, adminlists.RideFilter{City: "bcn"}, 7, func(adminlists.Ride) error { n++; return nil })
	if err != nil || got != 7 || n != 7 {
		t.Fatalf("each at the bound: %d %d %v", got, n, err)
	}
	n = 0
	_, err = adminlists.EachRide(ctx, f.env.DB.Pool, adminlists.RideFilter{City: "bcn"}, 6, func(adminlists.Ride) error { n++; return nil })
	if !errors.Is(err, adminlists.ErrTooMany) || n != 6 {
		t.Fatalf("each past the bound: %d %v", n, err)
	}
	stop := fmt.Errorf("stop")
	if _, err := adminlists.EachRide(ctx, f.env.DB.Pool, adminlists.RideFilter{}, 100, func(adminlists.Ride) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn error: %v", err)
	}
	vs := 0
	if _, err := adminlists.EachVehicle(ctx, f.env.DB.Pool, adminlists.VehicleFilter{City: "bcn", Status: "maintenance"}, 10,
		func(v adminlists.Vehicle) error {
			vs++
			if v.Number != "V2" || v.City != "bcn" {
				t.Errorf("vehicle %+v", v)
			}
			return nil
		}); err != nil || vs != 1 {
		t.Fatalf("vehicles %d %v", vs, err)
	}

	// Balances are the ledger sums: Ana tops up 10.00 and pays a 1.01 ride.
	pool := f.env.DB.Pool
	var acct, clearing, revenue int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(pool.QueryRow(ctx, `INSERT INTO ledger_accounts (kind, rider_id, currency) VALUES ('rider_balance', $1, 'EUR') RETURNING id`, f.ana).Scan(&acct))
	must(pool.QueryRow(ctx, `INSERT INTO ledger_accounts (kind, currency) VALUES ('provider_clearing', 'EUR') RETURNING id`).Scan(&clearing))
	must(pool.QueryRow(ctx, `INSERT INTO ledger_accounts (kind, currency) VALUES ('revenue', 'EUR') RETURNING id`).Scan(&revenue))
	post := func(kind string, ride, payment *string, amount int64, from, to int64) {
		t.Helper()
		tx, err := pool.Begin(ctx)
		must(err)
		var id int64
		must(tx.QueryRow(ctx, `INSERT INTO ledger_transactions (kind, ride_id, payment_id) VALUES ($1, $2, $3) RETURNING id`, kind, ride, payment).Scan(&id))
		_, err = tx.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor) VALUES ($1, $2, 'EUR', $3), ($1, $4, 'EUR', $5)`,
			id, to, amount, from, -amount)
		must(err)
		must(tx.Commit(ctx))
	}
	post("top_up", nil, &f.payments[0], 1000, clearing, acct)
	post("ride_charge", &f.rides[1], nil, 101, acct, revenue)
	rs, _, err := adminlists.ListRiders(ctx, pool, adminlists.RiderFilter{Search: "ana"}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !slices.Equal(rs[0].Balances, []adminlists.Balance{{Currency: "EUR", AmountMinor: 899}}) {
		t.Fatalf("ana %+v", rs)
	}
	rs, _, _ = adminlists.ListRiders(ctx, pool, adminlists.RiderFilter{Search: "bob"}, 10, "")
	if len(rs) != 1 || len(rs[0].Balances) != 0 {
		t.Fatalf("bob %+v", rs)
	}
}

func TestListPermissions(t *testing.T) {
	f := newFixture(t)
	var routes []adminapi.Route
	for _, r := range f.env.API.Routes() {
		if slices.Contains([]string{"list-rides", "list-payments", "list-riders"}, r.OperationID) {
			routes = append(routes, r)
		}
	}
	if len(routes) != 3 {
		t.Fatalf("%d routes", len(routes))
	}
	adminapitest.CheckAccess(t, f.env, routes, nil)
	// payments.read does not open the rides list, riders.read not the payments list.
	if r := f.env.Do("GET", adminapi.Prefix+"/rides", f.tokenPayment, nil); r.Status != 403 {
		t.Errorf("rides with payments.read: %d", r.Status)
	}
	if r := f.env.Do("GET", adminapi.Prefix+"/payments", f.tokenRiders, nil); r.Status != 403 {
		t.Errorf("payments with riders.read: %d", r.Status)
	}
}
