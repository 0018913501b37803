package rides_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/eventstore"
	"github.com/fleetedge/fleetedge/protocol/link"
)

func rideEvent(seq uint64, kind link.EventKind, vehicle, rideID string, at time.Time, pos *link.Position, by string) link.Event {
	return link.Event{Seq: seq, Vehicle: vehicle, Time: at, Kind: kind, Ride: &link.RideEvent{RideID: rideID, Position: pos, EndedBy: by}}
}

// TestGatewayEndedRideBilledOnce: a ride the gateway ended while the cloud was unreachable is
// ended and billed at the event's time when the batch arrives, exactly once under redelivery.
func TestGatewayEndedRideBilledOnce(t *testing.T) {
	e := newEnv(t)
	e.vehicle("EV001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	r := e.ride(e.start(rd.Token, "EV001"), 201)
	startedAt := e.clock.Now()
	e.clock.Add(30 * time.Minute) // the cloud hears of it late
	endAt := startedAt.Add(6*time.Minute + 10*time.Second)
	batch := []link.Event{
		rideEvent(100, link.EventRidePaused, "EV001", r.ID, startedAt.Add(2*time.Minute), nil, ""),
		rideEvent(101, link.EventRideResumed, "EV001", r.ID, startedAt.Add(3*time.Minute), nil, ""),
		rideEvent(102, link.EventRideEnded, "EV001", r.ID, endAt, &link.Position{Lat: parkingLat, Lon: parkingLon}, "vehicle"),
	}
	for range 3 { // redelivered
		e.deliver(testCity, batch...)
	}
	got := e.ride(e.do("GET", "/v1/rides/"+r.ID, rd.Token, nil), 200)
	// 6 min 10 s, 1 min paused: 5 min 10 s riding → 6 minutes; 1 pause minute.
	const want = unlockFee + 6*perMinute + 1*pausePerMinute
	if got.State != "ended" || got.EndReason != "vehicle" || got.FareTotalMinor == nil || *got.FareTotalMinor != want {
		t.Fatalf("ride %+v fare %v, want ended by vehicle with %d", got, got.FareTotalMinor, want)
	}
	if n := e.scalar(`SELECT count(*) FROM ledger_transactions WHERE ride_id = $1`, r.ID); n != int64(1) {
		t.Errorf("%v charges", n)
	}
	if b := e.balance(rd.ID); b != 1000-want {
		t.Errorf("balance %d, want %d", b, 1000-want)
	}
	if at := e.scalar(`SELECT ended_at FROM rides WHERE id = $1`, r.ID); !at.(time.Time).Equal(endAt) {
		t.Errorf("ended_at %v, want the event's %v", at, endAt)
	}
	// Events of another vehicle or city for this ride, and unknown rides, change nothing.
	for _, ev := range []struct {
		city link.CityID
		e    link.Event
	}{
		{testCity, rideEvent(200, link.EventRideEnded, "OTHER", r.ID, endAt, nil, "")},
		{"elsewhere", rideEvent(201, link.EventRideEnded, "EV001", r.ID, endAt, nil, "")},
		{testCity, rideEvent(202, link.EventRideEnded, "EV001", "not-a-uuid", endAt, nil, "")},
		{testCity, rideEvent(203, link.EventRideStarted, "EV001", "00000000-0000-4000-8000-000000000000", endAt, nil, "")},
	} {
		if err := e.svc.HandleEvents(t.Context(), ev.city, "gw-1", []link.Event{ev.e}); err != nil {
			t.Errorf("%+v: %v", ev.e, err)
		}
	}
}

// TestGatewayEndedOutOfZoneFined: a ride the scooter ended in a no-parking zone pays the fine.
func TestGatewayEndedOutOfZoneFined(t *testing.T) {
	e := newEnv(t)
	e.vehicle("EV002", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	r := e.ride(e.start(rd.Token, "EV002"), 201)
	ev := rideEvent(1, link.EventRideEnded, "EV002", r.ID, e.clock.Now().Add(30*time.Second),
		&link.Position{Lat: noParkLat, Lon: noParkLon}, "gateway")
	if err := e.svc.HandleEvents(t.Context(), testCity, "gw-1", []link.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if f := e.systemBalance("fines"); f != outOfZoneFine {
		t.Errorf("fines %d, want %d", f, outOfZoneFine)
	}
}

// TestRideStartedEvent: the ack arriving by the event stream starts a ride still starting;
// one for a reservation the API already cancelled starts nothing, charges nothing, and the
// scooter is powered off.
func TestRideStartedEvent(t *testing.T) {
	e := newEnv(t)
	e.vehicle("EV003", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	e.gw.set(1, link.OutcomeTimeout, nil)
	if r := e.start(rd.Token, "EV003"); r.Status != 504 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	id := e.scalar(`SELECT id::text FROM rides WHERE state = 'cancelled'`).(string)
	ev := rideEvent(1, link.EventRideStarted, "EV003", id, e.clock.Now(), nil, "")
	for range 2 {
		if err := e.svc.HandleEvents(t.Context(), testCity, "gw-1", []link.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.Wait()
	if st := e.scalar(`SELECT state FROM rides WHERE id = $1`, id); st != "cancelled" {
		t.Errorf("late ride_started made the cancelled ride %v", st)
	}
	aborts := slices.DeleteFunc(e.gw.commands(), func(c string) bool { return !strings.HasSuffix(c, ":abort") })
	if len(aborts) != 1 || aborts[0] != "3 "+id+":abort" {
		t.Errorf("abort commands %q, want one power-off", aborts)
	}
	if v := e.scalar(`SELECT status FROM vehicles WHERE number = 'EV003'`); v != "available" {
		t.Errorf("vehicle %v", v)
	}

	// A reservation still starting (its API call lost) is started by the event.
	e.gw.set(1, link.OutcomeAcked, nil)
	if _, err := e.admin.DB.Pool.Exec(t.Context(), `INSERT INTO rides (rider_id, vehicle_id, city_id, tariff_id, state, started_at,
		start_lat, start_lon, currency) SELECT $1, v.id, v.city_id, t.id, 'starting', $2, $3, $4, 'EUR'
		FROM vehicles v, tariffs t WHERE v.number = 'EV003'`, rd.ID, e.clock.Now(), startLat, startLon); err != nil {
		t.Fatal(err)
	}
	id2 := e.scalar(`SELECT id::text FROM rides WHERE state = 'starting'`).(string)
	at := e.clock.Now().Add(3 * time.Second)
	if err := e.svc.HandleEvents(t.Context(), testCity, "gw-1", []link.Event{rideEvent(2, link.EventRideStarted, "EV003", id2, at, nil, "")}); err != nil {
		t.Fatal(err)
	}
	if st := e.scalar(`SELECT state FROM rides WHERE id = $1`, id2); st != "active" {
		t.Errorf("ride_started for a starting ride: %v", st)
	}
	if s := e.scalar(`SELECT started_at FROM rides WHERE id = $1`, id2); !s.(time.Time).Equal(at) {
		t.Errorf("started_at %v, want the ack's %v", s, at)
	}
}

// TestSweepStale: a reservation left starting is cancelled and its vehicle released.
func TestSweepStale(t *testing.T) {
	e := newEnv(t)
	e.vehicle("SW001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	if _, err := e.admin.DB.Pool.Exec(t.Context(), `INSERT INTO rides (rider_id, vehicle_id, city_id, tariff_id, state, started_at,
		start_lat, start_lon, currency, created_at) SELECT $1, v.id, v.city_id, t.id, 'starting', now(), $2, $3, 'EUR', now() - interval '1 hour'
		FROM vehicles v, tariffs t WHERE v.number = 'SW001'`, rd.ID, startLat, startLon); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.DB.Pool.Exec(t.Context(), `UPDATE vehicles SET status = 'reserved' WHERE number = 'SW001'`); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.SweepStale(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if v := e.scalar(`SELECT status FROM vehicles WHERE number = 'SW001'`); v != "available" {
		t.Errorf("vehicle %v", v)
	}
	e.ride(e.start(rd.Token, "SW001"), 201)
}

// deliver runs a batch through what the ingest does: store it in vehicle_events, then run
// the hook.
func (e *env) deliver(city link.CityID, events ...link.Event) {
	e.t.Helper()
	if err := eventstore.Insert(e.t.Context(), e.admin.DB.Pool, city, "gw-1", events); err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.HandleEvents(e.t.Context(), city, "gw-1", events); err != nil {
		e.t.Fatal(err)
	}
}

// TestPauseEventsAfterTheAPI: the gateway's pause/resume events for pauses the API already
// recorded — even arriving after the resume — add nothing; a pause the API did not hear of
// (its reply lost) is recorded from the events.
func TestPauseEventsAfterTheAPI(t *testing.T) {
	e := newEnv(t)
	e.vehicle("PE001", startLat, startLon, 80)
	rd := e.fundedRider(1000)
	r := e.ride(e.start(rd.Token, "PE001"), 201)
	t0 := e.clock.Now()
	e.clock.Add(time.Minute)
	e.ride(e.do("POST", "/v1/rides/"+r.ID+"/pause", rd.Token, nil), 200)
	e.clock.Add(time.Minute)
	e.ride(e.do("POST", "/v1/rides/"+r.ID+"/resume", rd.Token, nil), 200)
	e.deliver(testCity,
		rideEvent(10, link.EventRidePaused, "PE001", r.ID, t0.Add(time.Minute), nil, ""),
		rideEvent(11, link.EventRideResumed, "PE001", r.ID, t0.Add(2*time.Minute), nil, ""))
	if n := e.scalar(`SELECT count(*) FROM ride_pauses WHERE ride_id = $1`, r.ID); n != int64(1) {
		t.Fatalf("%v pauses after the API's pause and its events, want 1", n)
	}
	// A second pause only the gateway saw.
	e.deliver(testCity, rideEvent(12, link.EventRidePaused, "PE001", r.ID, t0.Add(3*time.Minute), nil, ""))
	if got := e.ride(e.do("GET", "/v1/rides/"+r.ID, rd.Token, nil), 200); got.State != "paused" {
		t.Errorf("state %s after a pause event, want paused", got.State)
	}
	e.deliver(testCity, rideEvent(13, link.EventRideResumed, "PE001", r.ID, t0.Add(5*time.Minute), nil, ""))
	if n := e.scalar(`SELECT count(*) FROM ride_pauses WHERE ride_id = $1 AND ended_at IS NOT NULL`, r.ID); n != int64(2) {
		t.Errorf("%v closed pauses, want 2", n)
	}
	e.clock.Add(5 * time.Minute) // t0 + 7 min
	end := e.ride(e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, nil), 200)
	// 7 min, paused 1 + 2 = 3 min: 4 riding minutes, 3 pause minutes.
	if want := int64(unlockFee + 4*perMinute + 3*pausePerMinute); *end.FareTotalMinor != want {
		t.Errorf("fare %d, want %d", *end.FareTotalMinor, want)
	}
}

// TestEndRacesGatewayEnd: the rider's end and the gateway's ride_ended (redelivered, in
// parallel) bill the ride exactly once.
func TestEndRacesGatewayEnd(t *testing.T) {
	e := newEnv(t)
	e.gw.delay = 5 * time.Millisecond
	for i := range 5 {
		number := "RC00" + string(rune('1'+i))
		e.vehicle(number, parkingLat, parkingLon, 80)
		rd := e.fundedRider(1000)
		r := e.ride(e.start(rd.Token, number), 201)
		e.clock.Add(2 * time.Minute)
		ev := rideEvent(uint64(500+i), link.EventRideEnded, number, r.ID, e.clock.Now(), &link.Position{Lat: parkingLat, Lon: parkingLon}, "cloud")
		if err := eventstore.Insert(t.Context(), e.admin.DB.Pool, testCity, "gw-1", []link.Event{ev}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if err := e.svc.HandleEvents(t.Context(), testCity, "gw-1", []link.Event{ev}); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				if got := e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, nil); got.Status != 200 && got.Code() != "ride_state" {
					t.Errorf("end: %d %s", got.Status, got.Body)
				}
			}()
		}
		wg.Wait()
		if n := e.scalar(`SELECT count(*) FROM ledger_transactions WHERE ride_id = $1`, r.ID); n != int64(1) {
			t.Errorf("%s: %v charges", number, n)
		}
		if b := e.balance(rd.ID); b != 1000-(unlockFee+2*perMinute) {
			t.Errorf("%s: balance %d", number, b)
		}
	}
}
