package rides_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/rides"
)

// TestHistoryPaging: newest first, cursor pages, nothing twice, nothing of other riders.
func TestHistoryPaging(t *testing.T) {
	e := newEnv(t)
	e.vehicle("HP001", parkingLat, parkingLon, 90)
	rd := e.fundedRider(10_000)
	var ids []string
	for range 5 {
		r := e.ride(e.start(rd.Token, "HP001"), 201)
		e.clock.Add(time.Minute)
		e.ride(e.do("POST", "/v1/rides/"+r.ID+"/end", rd.Token, nil), 200)
		ids = append([]string{r.ID}, ids...)
		e.clock.Add(time.Minute)
	}
	e.fundedRider(0) // another rider, no rides
	var got []string
	cursor := ""
	for page := 0; page < 5; page++ {
		r := e.do("GET", "/v1/rides?limit=2&cursor="+url.QueryEscape(cursor), rd.Token, nil)
		var h struct {
			Rides []rideJSON
			Next  string
		}
		r.JSON(t, &h)
		if r.Status != 200 || len(h.Rides) > 2 {
			t.Fatalf("page %d: %d %s", page, r.Status, r.Body)
		}
		for _, x := range h.Rides {
			got = append(got, x.ID)
		}
		if h.Next == "" {
			break
		}
		cursor = h.Next
	}
	if len(got) != 5 {
		t.Fatalf("%d rides over the pages, want 5: %v", len(got), got)
	}
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("order %v, want %v", got, ids)
		}
	}
}

func FuzzParseVehicleRef(f *testing.F) {
	for _, s := range []string{"12AB", "https://ride.example.com/v/12AB", "http://x/v/A?b#c", "", "https://x/v/", "%zz", "https://[::1]/v/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := rides.ParseVehicleRef(s)
		if err != nil {
			return
		}
		if n == "" || len(n) > 32 {
			t.Fatalf("%q → %q", s, n)
		}
		for _, c := range n {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				t.Fatalf("%q → %q", s, n)
			}
		}
	})
}
