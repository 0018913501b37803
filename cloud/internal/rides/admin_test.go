package rides_test

import (
	"slices"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/protocol/link"
)

type statusJSON struct {
	RiderID    string `json:"rider_id"`
	Status     string
	EndedRides []struct {
		RideID           string `json:"ride_id"`
		FareTotalMinor   int64  `json:"fare_total_minor"`
		VehicleConfirmed bool   `json:"vehicle_confirmed"`
	} `json:"ended_rides"`
}

// TestSuspendEndsRidesAndBlocksNewOnes: a suspension powers off and bills the active ride,
// is audited, and blocks new rides until the rider is reactivated; a scooter that does not
// answer has its ride billed at the last known position and is flagged.
func TestSuspendEndsRidesAndBlocksNewOnes(t *testing.T) {
	e := newEnv(t)
	e.vehicle("SU001", startLat, startLon, 80)
	e.vehicle("SU002", startLat, startLon, 80)
	rd := e.fundedRider(2000)
	tok, adminID := e.admin.TokenWith(admin.PermRidersSuspend)

	r := e.ride(e.start(rd.Token, "SU001"), 201)
	e.clock.Add(4 * time.Minute)
	e.report("SU001", parkingLat, parkingLon, 70)
	got := e.admin.Do("POST", "/admin/v1/riders/"+rd.ID+"/suspend", tok, nil)
	var st statusJSON
	got.JSON(t, &st)
	const fare1 = unlockFee + 4*perMinute
	if got.Status != 200 || st.Status != "suspended" || len(st.EndedRides) != 1 || st.EndedRides[0].RideID != r.ID ||
		st.EndedRides[0].FareTotalMinor != fare1 || !st.EndedRides[0].VehicleConfirmed {
		t.Fatalf("suspend: %d %s", got.Status, got.Body)
	}
	if end := e.ride(e.do("GET", "/v1/rides/"+r.ID, rd.Token, nil), 200); end.State != "ended" || end.EndReason != "suspension" {
		t.Errorf("ride after suspension: %+v", end)
	}
	entries := e.admin.Audit(audit.Filter{Action: "rider.suspend"})
	if len(entries) != 1 || entries[0].AdminID != adminID || entries[0].TargetID != rd.ID {
		t.Errorf("audit: %+v", entries)
	}
	if s := e.start(rd.Token, "SU002"); s.Status != 403 || s.Code() != "account_suspended" {
		t.Errorf("start while suspended: %d %s", s.Status, s.Body)
	}
	// Suspending again changes nothing and audits nothing.
	if again := e.admin.Do("POST", "/admin/v1/riders/"+rd.ID+"/suspend", tok, nil); again.Status != 200 {
		t.Errorf("suspend again: %d %s", again.Status, again.Body)
	}
	if n := len(e.admin.Audit(audit.Filter{Action: "rider.suspend"})); n != 1 {
		t.Errorf("%d suspend entries after a repeat", n)
	}

	// Reactivate; the next ride's scooter will not answer the suspension's power-off.
	if got := e.admin.Do("POST", "/admin/v1/riders/"+rd.ID+"/reactivate", tok, nil); got.Status != 200 {
		t.Fatalf("reactivate: %d %s", got.Status, got.Body)
	}
	if n := len(e.admin.Audit(audit.Filter{Action: "rider.reactivate"})); n != 1 {
		t.Errorf("%d reactivate entries", n)
	}
	rd.Token = e.login(rd.Email)
	r2 := e.ride(e.start(rd.Token, "SU002"), 201)
	e.clock.Add(time.Minute)
	e.gw.set(3, link.OutcomeTimeout, nil)
	got = e.admin.Do("POST", "/admin/v1/riders/"+rd.ID+"/suspend", tok, nil)
	got.JSON(t, &st)
	if got.Status != 200 || len(st.EndedRides) != 1 || st.EndedRides[0].VehicleConfirmed || st.EndedRides[0].FareTotalMinor != unlockFee+perMinute {
		t.Fatalf("suspend with a silent scooter: %d %s", got.Status, got.Body)
	}
	if v := e.scalar(`SELECT status FROM vehicles WHERE number = 'SU002'`); v != "maintenance" {
		t.Errorf("silent scooter's vehicle %v, want maintenance", v)
	}
	if u := e.scalar(`SELECT end_unconfirmed FROM rides WHERE id = $1`, r2.ID); u != true {
		t.Errorf("end_unconfirmed %v", u)
	}
	if b := e.balance(rd.ID); b != 2000-fare1-(unlockFee+perMinute) {
		t.Errorf("balance %d", b)
	}
}

// TestSuspendRoutesPermissions: the routes need riders.suspend.
func TestSuspendRoutesPermissions(t *testing.T) {
	e := newEnv(t)
	rd := e.fundedRider(0)
	routes := slices.DeleteFunc(e.admin.API.Routes(), func(r adminapi.Route) bool {
		return r.OperationID != "suspend-rider" && r.OperationID != "reactivate-rider"
	})
	if len(routes) != 2 {
		t.Fatalf("routes %+v", routes)
	}
	adminapitest.CheckAccess(t, e.admin, routes, map[string]string{"id": rd.ID})
}
