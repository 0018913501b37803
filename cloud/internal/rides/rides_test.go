package rides_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestRideLifecycle: start by QR URL → pause → resume → end in a parking zone; the fare, the
// ledger and the receipt are right to the cent, and the scooter got 1, 73, 75, 3.
func TestRideLifecycle(t *testing.T) {
	e := newEnv(t)
	e.vehicle("BC001", startLat, startLon, 80)
	rd := e.fundedRider(1000)

	r := e.ride(e.start(rd.Token, qrURL("BC001")), 201)
	if r.State != "active" || r.Vehicle != "BC001" {
		t.Fatalf("started: %+v", r)
	}
	if got := e.scalar(`SELECT status FROM vehicles WHERE number = 'BC001'`); got != "in_ride" {
		t.Errorf("vehicle status %v, want in_ride", got)
	}
	e.clock.Add(3 * time.Minute)
	if p := e.ride(e.do("POST", "/v1/rides/"+r.ID+"/pause", rd.Token, nil), 200); p.State != "paused" {
		t.Fatalf("pause: %+v", p)
	}
	e.clock.Add(2 * time.Minute)
	if p := e.ride(e.do("POST", "/v1/rides/"+r.ID+"/resume", rd.Token, nil), 200); p.State != "active" {
		t.Fatalf("resume: %+v", p)
	}
	e.clock.Add(4*time.Minute + 30*time.Second)
	e.report("BC001", parkingLat, parkingLon, 70)
	end := e.ride(e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, nil), 200)
	// 9 min 30 s in all, 2 min paused: 7 min 30 s riding → 8 started minutes.
	const want = unlockFee + 8*perMinute + 2*pausePerMinute // 270
	if end.State != "ended" || end.FareTotalMinor == nil || *end.FareTotalMinor != want || end.EndReason != "rider" {
		t.Fatalf("end: %+v (fare %v), want ended with %d", end, end.FareTotalMinor, want)
	}
	if got := e.balance(rd.ID); got != 1000-want {
		t.Errorf("rider balance %d, want %d", got, 1000-want)
	}
	if got := e.systemBalance("revenue"); got != want {
		t.Errorf("revenue %d, want %d", got, want)
	}
	if got := e.scalar(`SELECT count(*) FROM ledger_transactions WHERE kind = 'ride_charge' AND ride_id = $1`, r.ID); got != int64(1) {
		t.Errorf("ride charges: %v", got)
	}
	if got := e.scalar(`SELECT status FROM vehicles WHERE number = 'BC001'`); got != "available" {
		t.Errorf("vehicle status after the ride %v, want available", got)
	}
	wantCmds := []string{"1 " + r.ID + ":start", "73 " + r.ID + ":pause:1", "75 " + r.ID + ":resume:1", "3 " + r.ID + ":end"}
	if got := e.gw.commands(); !slices.Equal(got, wantCmds) {
		t.Errorf("commands %q, want %q", got, wantCmds)
	}

	rc := e.do("GET", "/v1/rides/"+r.ID+"/receipt", rd.Token, nil)
	if rc.Status != 200 {
		t.Fatalf("receipt: %d %s", rc.Status, rc.Body)
	}
	var receipt struct {
		RideMinutes, PauseMinutes int
		Lines                     []struct {
			Code        string
			AmountMinor int64 `json:"amount_minor"`
		}
		TotalMinor int64 `json:"total_minor"`
		Pauses     []struct{ From, To time.Time }
		Route      struct {
			Type        string
			Coordinates [][]float64
		}
	}
	rc.JSON(t, &receipt)
	var codes []string
	var sum int64
	for _, l := range receipt.Lines {
		codes = append(codes, l.Code)
		sum += l.AmountMinor
	}
	if receipt.TotalMinor != want || sum != want || !slices.Equal(codes, []string{"unlock", "time", "pause"}) {
		t.Errorf("receipt lines %s", rc.Body)
	}
	if len(receipt.Pauses) != 1 || receipt.Pauses[0].To.Sub(receipt.Pauses[0].From) != 2*time.Minute {
		t.Errorf("receipt pauses %+v", receipt.Pauses)
	}
	if receipt.Route.Type != "LineString" || len(receipt.Route.Coordinates) < 2 {
		t.Errorf("receipt route %+v", receipt.Route)
	}

	// The ride is in the history; a second end is refused, nothing charged twice.
	h := e.do("GET", "/v1/rides?limit=5", rd.Token, nil)
	var hist struct{ Rides []rideJSON }
	h.JSON(t, &hist)
	if h.Status != 200 || len(hist.Rides) != 1 || hist.Rides[0].ID != r.ID {
		t.Errorf("history %d %s", h.Status, h.Body)
	}
	if got := e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, nil); got.Status != 409 || got.Code() != "ride_state" {
		t.Errorf("second end: %d %s", got.Status, got.Body)
	}
	// Another rider sees none of it.
	other := e.fundedRider(0)
	for _, p := range []string{"/v1/rides/" + r.ID, "/v1/rides/" + r.ID + "/receipt"} {
		if got := e.do("GET", p, other.Token, nil); got.Status != 404 || got.Code() != "ride_not_found" {
			t.Errorf("other rider %s: %d %s", p, got.Status, got.Body)
		}
	}
}

// TestRaceForOneScooter: riders racing for one scooter — exactly one ride starts.
func TestRaceForOneScooter(t *testing.T) {
	e := newEnv(t)
	e.gw.delay = 20 * time.Millisecond
	const riders = 6
	var tokens []string
	for range riders {
		tokens = append(tokens, e.fundedRider(1000).Token)
	}
	for round, number := range []string{"RACE1", "RACE2", "RACE3"} {
		e.vehicle(number, startLat, startLon, 90)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			codes []int
		)
		for i := range riders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.start(tokens[(i+round)%riders], number)
				mu.Lock()
				codes = append(codes, r.Status)
				mu.Unlock()
				if r.Status != 201 && (r.Status != 409 || (r.Code() != "vehicle_unavailable" && r.Code() != "ride_in_progress")) {
					t.Errorf("%s: %d %s", number, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			if c == 201 {
				won++
			}
		}
		if won != 1 {
			t.Errorf("%s: %d rides started (%v), want exactly 1", number, won, codes)
		}
		if got := e.scalar(`SELECT count(*) FROM rides r JOIN vehicles v ON v.id = r.vehicle_id WHERE v.number = $1`, number); got != int64(1) {
			t.Errorf("%s: %v ride rows", number, got)
		}
	}
}

// TestStartChecks: every refusal is a clear problem, leaves no ride and charges nothing.
func TestStartChecks(t *testing.T) {
	e := newEnv(t)
	e.vehicle("OK001", startLat, startLon, 80)
	e.vehicle("LOW01", startLat, startLon, 5)
	e.vehicle("OUT01", outsideLat, outsideLon, 80)
	e.vehicle("MNT01", startLat, startLon, 80)
	if _, err := e.admin.DB.Pool.Exec(t.Context(), `UPDATE vehicles SET status = 'maintenance' WHERE number = 'MNT01'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.DB.Pool.Exec(t.Context(), `INSERT INTO vehicles (number, city_id) VALUES ('OFF01', $1)`, e.cityID); err != nil {
		t.Fatal(err)
	}
	poor := e.fundedRider(200) // below the minimum of 300
	rich := e.fundedRider(1000)
	for _, c := range []struct {
		name, token, vehicle string
		status               int
		code                 string
	}{
		{"insufficient balance", poor.Token, "OK001", 402, "insufficient_balance"},
		{"unknown vehicle", rich.Token, "NOPE1", 404, "vehicle_not_found"},
		{"low battery", rich.Token, "LOW01", 409, "battery_low"},
		{"outside the operating area", rich.Token, "OUT01", 409, "outside_operating_area"},
		{"in maintenance", rich.Token, "MNT01", 409, "vehicle_unavailable"},
		{"never reported", rich.Token, "OFF01", 409, "vehicle_offline"},
		{"not a vehicle reference", rich.Token, "ftp://x/v/OK001", 422, "invalid_request"},
		{"no token", "", "OK001", 401, "unauthorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.start(c.token, c.vehicle)
			if r.Status != c.status || r.Code() != c.code {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
		})
	}
	if got := e.scalar(`SELECT count(*) FROM rides`); got != int64(0) {
		t.Errorf("%v rides after refusals", got)
	}
	if got := e.balance(poor.ID); got != 200 {
		t.Errorf("poor rider's balance %d", got)
	}
	if got := e.gw.commands(); len(got) != 0 {
		t.Errorf("commands sent for refused starts: %q", got)
	}
	// One open ride per rider.
	e.ride(e.start(rich.Token, "OK001"), 201)
	e.vehicle("OK002", startLat, startLon, 80)
	if r := e.start(rich.Token, "OK002"); r.Status != 409 || r.Code() != "ride_in_progress" {
		t.Errorf("second ride: %d %s", r.Status, r.Body)
	}
}

// TestScooterDoesNotAck: a timeout, a refusal or an unreachable gateway start no ride and
// charge nothing; the vehicle is released and can be rented at once.
func TestScooterDoesNotAck(t *testing.T) {
	e := newEnv(t)
	e.vehicle("NA001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	for _, c := range []struct {
		outcome link.Outcome
		status  int
		code    string
	}{
		{link.OutcomeTimeout, 504, "vehicle_not_responding"},
		{link.OutcomeFailed, 502, "vehicle_refused"},
		{link.OutcomeExpired, 504, "vehicle_not_responding"},
	} {
		e.gw.set(1, c.outcome, nil)
		r := e.start(rd.Token, "NA001")
		if r.Status != c.status || r.Code() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.outcome, r.Status, r.Body, c.status, c.code)
		}
		if got := e.scalar(`SELECT status FROM vehicles WHERE number = 'NA001'`); got != "available" {
			t.Errorf("%s: vehicle %v, want available", c.outcome, got)
		}
	}
	if got := e.scalar(`SELECT count(*) FROM rides WHERE state = 'cancelled'`); got != int64(3) {
		t.Errorf("%v cancelled reservations, want 3", got)
	}
	if got := e.scalar(`SELECT count(*) FROM ledger_transactions WHERE kind = 'ride_charge'`); got != int64(0) {
		t.Errorf("%v charges", got)
	}
	if got := e.balance(rd.ID); got != 1000 {
		t.Errorf("balance %d, want 1000", got)
	}
	if h := e.do("GET", "/v1/rides", rd.Token, nil); !strings.Contains(string(h.Body), `"rides":[]`) {
		t.Errorf("cancelled reservations in the history: %s", h.Body)
	}
	e.gw.set(1, link.OutcomeAcked, nil)
	e.ride(e.start(rd.Token, "NA001"), 201)
	if n, r, ok := e.metric("fleetedge_ride_starts_total", "vehicle_not_responding"), e.metric("fleetedge_ride_starts_total", "vehicle_refused"),
		e.metric("fleetedge_ride_starts_total", "ok"); n != 2 || r != 1 || ok != 1 {
		t.Errorf("start outcomes: not responding %v, refused %v, ok %v", n, r, ok)
	}
}

// TestEndInNoParkingZone: refused with the nearest allowed area named, then accepted with the
// fine, which goes to the fines account.
func TestEndInNoParkingZone(t *testing.T) {
	e := newEnv(t)
	e.vehicle("NP001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	r := e.ride(e.start(rd.Token, "NP001"), 201)
	e.clock.Add(90 * time.Second)
	e.report("NP001", noParkLat, noParkLon, 75)

	got := e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, map[string]any{})
	var p struct {
		Code, Detail                   string
		ZoneName                       string `json:"zone_name"`
		NearestZoneID, NearestZoneName string
		NearestDistanceM               int   `json:"nearest_distance_m"`
		FineMinor                      int64 `json:"fine_minor"`
	}
	got.JSON(t, &p)
	if got.Status != 409 || p.Code != "end_not_allowed" || p.ZoneName != "Passeig No Parking" || p.FineMinor != outOfZoneFine {
		t.Fatalf("end in no-parking: %d %s", got.Status, got.Body)
	}
	if !strings.Contains(string(got.Body), `"nearest_zone_id":"area"`) || p.NearestDistanceM <= 0 || p.NearestDistanceM > 200 ||
		!strings.Contains(p.Detail, "Service area") {
		t.Errorf("nearest allowed area not named: %s", got.Body)
	}
	if slices.ContainsFunc(e.gw.commands(), func(c string) bool { return strings.HasPrefix(c, "3 ") }) {
		t.Error("power-off sent for a refused end")
	}
	end := e.ride(e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, map[string]any{"accept_fine": true}), 200)
	const want = unlockFee + 2*perMinute + outOfZoneFine
	if end.FareTotalMinor == nil || *end.FareTotalMinor != want || !end.FineAccepted {
		t.Fatalf("end with fine: %+v", end)
	}
	if got := e.systemBalance("fines"); got != outOfZoneFine {
		t.Errorf("fines account %d, want %d", got, outOfZoneFine)
	}
	if got := e.systemBalance("revenue"); got != want-outOfZoneFine {
		t.Errorf("revenue %d, want %d", got, want-outOfZoneFine)
	}
	if got := e.balance(rd.ID); got != 1000-want {
		t.Errorf("balance %d, want %d", got, 1000-want)
	}
}

// TestEndNotAcked: a power-off the scooter does not confirm leaves the ride running.
func TestEndNotAcked(t *testing.T) {
	e := newEnv(t)
	e.vehicle("EN001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	r := e.ride(e.start(rd.Token, "EN001"), 201)
	e.gw.set(3, link.OutcomeTimeout, nil)
	if got := e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, nil); got.Status != 504 || got.Code() != "vehicle_not_responding" {
		t.Fatalf("end without ack: %d %s", got.Status, got.Body)
	}
	if got := e.ride(e.do("GET", "/v1/rides/"+r.ID, rd.Token, nil), 200); got.State != "active" {
		t.Errorf("ride %s after an unconfirmed end", got.State)
	}
	if got := e.balance(rd.ID); got != 1000 {
		t.Errorf("charged %d without an end", 1000-got)
	}
}

// TestBadInputNever500: injection attempts and oversized values on every string field.
func TestBadInputNever500(t *testing.T) {
	e := newEnv(t)
	e.vehicle("BI001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	evil := []string{"' OR '1'='1", "BI001'; DROP TABLE rides; --", strings.Repeat("A", 100_000), "\x00", "BI001\u202e",
		"https://x/v/' OR 1=1 --", "../../etc/passwd", "%00", "{{7*7}}", "😀"}
	for _, v := range evil {
		r := e.start(rd.Token, v)
		if r.Status >= 500 || r.Status == 201 {
			t.Errorf("start %.40q: %d %s", v, r.Status, r.Body)
		}
		for _, p := range []string{"/v1/rides/", "/v1/rides/%s/pause", "/v1/rides/%s/end", "/v1/rides/%s/receipt"} {
			path := strings.Replace(p, "%s", urlEsc(v), 1)
			if !strings.Contains(p, "%s") {
				path = p + urlEsc(v)
			}
			method := "POST"
			if strings.HasSuffix(p, "receipt") || p == "/v1/rides/" {
				method = "GET"
			}
			if r := e.do(method, path, rd.Token, map[string]any{"accept_fine": v}); r.Status >= 500 || r.Status < 400 {
				t.Errorf("%s %.60s: %d %.200s", method, path, r.Status, r.Body)
			}
		}
		for _, q := range []string{"/v1/rides?cursor=", "/v1/vehicles/nearby?lat=41&lon=2&radius_m="} {
			if r := e.do("GET", q+urlEsc(v), rd.Token, nil); r.Status >= 500 || r.Status < 400 {
				t.Errorf("GET %.60s: %d %.200s", q+v, r.Status, r.Body)
			}
		}
		if r := e.admin.Do("POST", "/admin/v1/riders/"+urlEsc(v)+"/suspend", e.admin.SuperToken, map[string]any{}); r.Status >= 500 || r.Status < 400 {
			t.Errorf("suspend %.40q: %d %.200s", v, r.Status, r.Body)
		}
	}
	if got := e.scalar(`SELECT count(*) FROM rides`); got != int64(0) {
		t.Errorf("%v rides", got)
	}
	// Well-formed but unknown ids are 404, not 500.
	unknown := "00000000-0000-4000-8000-000000000000"
	if r := e.do("POST", "/v1/rides/"+unknown+"/pause", rd.Token, nil); r.Status != 404 {
		t.Errorf("unknown ride: %d %s", r.Status, r.Body)
	}
	if r := e.admin.Do("POST", "/admin/v1/riders/"+unknown+"/suspend", e.admin.SuperToken, map[string]any{}); r.Status != 404 {
		t.Errorf("unknown rider: %d %s", r.Status, r.Body)
	}
	var p json.RawMessage
	if r := e.do("GET", "/v1/rides?cursor=bm90LWEtY3Vyc29y", rd.Token, nil); r.Status != 422 {
		r.JSON(t, &p)
		t.Errorf("bad cursor: %d %s", r.Status, r.Body)
	}
}
