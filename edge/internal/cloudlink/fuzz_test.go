package cloudlink

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// FuzzDecode feeds arbitrary bytes to both decoders of the link: a command
// request body (handle) and a configuration entry of each kind (decode).
// Neither may panic; a request always gets a versioned result, a rejected one
// with its error; a document that decodes is for this city with a version.
func FuzzDecode(f *testing.F) {
	req, _ := json.Marshal(validRequest("f1"))
	zones, _ := json.Marshal(zonesDoc(1, 1))
	veh, _ := json.Marshal(vehiclesDoc(2, "A1"))
	tar, _ := json.Marshal(tariffsDoc(3))
	for _, s := range [][]byte{req, zones, veh, tar, []byte(`{"v":1,"id":"x","code":1e300}`), []byte(`{"v":1,"geofencing_zones":null}`), nil} {
		f.Add(s)
	}
	h := handlerFunc(func(_ context.Context, r link.CommandRequest) link.CommandResult {
		return link.CommandResult{V: link.Version, ID: r.ID, Outcome: link.OutcomeAcked}
	})
	l := &Link{cfg: Config{City: testCity, Commands: h, DefaultWait: DefaultWait, ReplyGrace: DefaultReplyGrace}}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := l.handle(context.Background(), data)
		if res.V != link.Version || (res.Outcome == link.OutcomeRejected) == (res.Error == "") {
			t.Fatalf("result %+v", res)
		}
		for _, kind := range kinds {
			u, err := l.decode(kind, data)
			if err == nil && (u.Version <= 0 || u.Kind != kind || (kind == link.ConfigZones) != (u.Zones != nil)) {
				t.Fatalf("%s decoded to %+v", kind, u)
			}
		}
	})
}
