package livestate

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func TestApplyMergesGroupsAndNeverGoesBack(t *testing.T) {
	f := New()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	f.Apply("paris", "gw1", &link.Telemetry{Seq: 1, Vehicle: "V1", Time: at(0),
		Position: &link.Position{Lat: 48.85, Lon: 2.35}, BatteryPct: ptr(80), Status: &link.Status{Powered: true}})
	v := f.Apply("paris", "gw1", &link.Telemetry{Seq: 2, Vehicle: "V1", Time: at(5),
		Position: &link.Position{Lat: 48.86, Lon: 2.36}})
	if v.Position.Lat != 48.86 || v.BatteryPct != 80 || !v.Status.Powered || !v.BatteryAt.Equal(at(0)) {
		t.Fatalf("merged state %+v", v)
	}
	// A redelivered older record changes nothing.
	v = f.Apply("paris", "gw1", &link.Telemetry{Seq: 1, Vehicle: "V1", Time: at(0),
		Position: &link.Position{Lat: 48.85, Lon: 2.35}, BatteryPct: ptr(80)})
	if v.Position.Lat != 48.86 || v.LastSeq != 2 || !v.LastSeen.Equal(at(5)) {
		t.Fatalf("older record moved the state back: %+v", v)
	}
	f.ApplyEvent("paris", "gw1", &link.Event{Seq: 3, Vehicle: "V1", Time: at(6), Kind: link.EventStateChanged,
		State: &link.StateEvent{From: "online", To: "offline"}})
	got, ok := f.Get("paris", "V1")
	if !ok || got.Connectivity != "offline" || got.LastSeq != 3 {
		t.Fatalf("after event: %+v", got)
	}
	if _, ok := f.Get("lyon", "V1"); ok {
		t.Error("vehicle found in another city")
	}
	// Copies do not alias the state.
	got.Position.Lat = 0
	if again, _ := f.Get("paris", "V1"); again.Position.Lat != 48.86 {
		t.Error("Get returned an alias")
	}
}

func TestListFiltersAndSorts(t *testing.T) {
	f := New()
	for i := range 10 {
		city := link.CityID("paris")
		if i%2 == 1 {
			city = "lyon"
		}
		f.Apply(city, "gw", &link.Telemetry{Seq: uint64(i + 1), Vehicle: fmt.Sprintf("V%02d", 9-i), Time: t0, BatteryPct: ptr(i * 10)})
	}
	paris := f.List("paris", nil)
	if len(paris) != 5 || paris[0].ID != "V01" || paris[4].ID != "V09" {
		t.Fatalf("paris list %v", paris)
	}
	low := f.List("", func(v *Vehicle) bool { return v.BatteryPct < 30 })
	if len(low) != 3 || low[0].City != "lyon" {
		t.Fatalf("filtered list %v", low)
	}
	if f.Len() != 10 {
		t.Errorf("Len = %d", f.Len())
	}
}

func TestConcurrentApplyAndRead(t *testing.T) {
	f := New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				f.Apply("paris", "gw", &link.Telemetry{Seq: uint64(i + 1), Vehicle: fmt.Sprintf("V%d", (i+w)%50),
					Time: t0.Add(time.Duration(i) * time.Millisecond), SpeedKmh: ptr(float64(i % 25))})
			}
		}()
		go func() {
			defer wg.Done()
			for range 100 {
				_ = f.List("paris", nil)
				_, _ = f.Get("paris", "V1")
			}
		}()
	}
	wg.Wait()
	if f.Len() != 50 {
		t.Errorf("Len = %d, want 50", f.Len())
	}
}
