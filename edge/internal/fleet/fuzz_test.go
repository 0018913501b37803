package fleet

import (
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// FuzzApply: whatever a scooter sends that decodes, Apply never panics, keeps
// the vehicle online and the per-state counts consistent.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"a":19,"i":"F1","g":"3020.5887,12006.4229,1,1","t":1764072000}`,
		`{"a":27,"i":"F1","b":80,"c":0,"s":1,"r":37.5,"v":25,"x":1}`,
		`{"a":16,"i":"F1","s":0,"k":2020,"p":12.5,"e":8,"b":79,"c":0}`,
		`{"a":22,"i":"F1","h":"HW","f":"FW","c":"1","m":861123456789012,"s":0}`,
		`{"a":2,"i":"F1","s":}`, `{"a":55,"i":"F1","s":1,"r":36}`, `{"a":84,"i":"F1","s":1}`,
	} {
		f.Add("bike", []byte(s))
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := protocol.Decode(topic, payload)
		if err != nil {
			return
		}
		r, ok := m.(protocol.Report)
		if !ok {
			return
		}
		fl := New(Options{})
		now := time.Unix(1764072000, 0)
		u := fl.Apply(r, now)
		if u.Vehicle.State != StateOnline || u.Vehicle.ID != r.Vehicle() || !u.Changes.Has(ChangeFirstSeen) {
			t.Fatalf("update %+v", u)
		}
		u2 := fl.Apply(r, now.Add(time.Second))
		if u2.Changes.Has(ChangeFirstSeen | ChangeOnline | ChangePoweredOn | ChangePoweredOff | ChangeFell | ChangeLocked) {
			t.Fatalf("the same report twice changed state again: %q", u2.Changes)
		}
		if fl.Len() != 1 || fl.Count(StateOnline) != 1 {
			t.Fatalf("counts len %d online %d", fl.Len(), fl.Count(StateOnline))
		}
	})
}
