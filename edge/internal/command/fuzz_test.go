package command

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// FuzzHandleRequest feeds arbitrary cloud requests to HandleRequest: it must
// never panic, and whatever it does not reject must have been published as a
// command that decodes to the requested code.
func FuzzHandleRequest(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"id":"a","vehicle":"12AB","code":13,"fields":{"k":2020}}`,
		`{"v":1,"id":"b","vehicle":"12AB","code":13,"fields":{"k":"2020"}}`,
		`{"v":1,"id":"c","vehicle":"12AB","code":53,"fields":{"z":"AT+QICSGP=15,1,\"apn\",\"\",\"\",0"}}`,
		`{"v":1,"id":"d","vehicle":"12AB","code":67,"fields":{"x":1,"l":2,"d":"abcd"}}`,
		`{"v":1,"id":"e","vehicle":"12AB","code":101,"fields":{"u":"h.example:1883:u:p:"}}`,
		`{"v":1,"id":"f","vehicle":"bike","code":28}`,
		`{"v":1,"id":"g","vehicle":"12AB","code":58,"fields":{"v":3,"i":200,"L":100,"a":58}}`,
		`{"v":1,"id":"h","vehicle":"12AB","code":13,"fields":{"k":[1]}}`,
		`{"v":1,"id":"i","vehicle":"12AB","code":15,"expires":"2001-01-01T00:00:00Z","timeout_ms":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req link.CommandRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		pub := &recPublisher{}
		m, err := New(Config{Publisher: pub, Clock: newFakeClock()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.VehicleOnline(protocol.VehicleID(req.Vehicle))
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // do not wait for replies: the outcome of sent commands is "stopped waiting"
		res := m.HandleRequest(ctx, req)
		switch res.Outcome {
		case link.OutcomeRejected:
			if res.Error == "" {
				t.Fatal("rejected without a reason")
			}
			return
		case link.OutcomeExpired: // Expires already past
			if len(pub.list()) != 0 || req.Expires.IsZero() {
				t.Fatalf("expired: %+v", res)
			}
			return
		}
		waitFor(t, "publish", func() bool { return len(pub.list()) == 1 })
		c, err := protocol.DecodeCommand(pub.list()[0].payload)
		if err != nil || int(c.Code()) != req.Code {
			t.Fatalf("published %q: %v", pub.list()[0].payload, err)
		}
	})
}
