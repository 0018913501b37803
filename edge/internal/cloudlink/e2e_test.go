package cloudlink

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestEndToEndScooterAck: a cloud request travels over NATS to the link, the
// real command.Manager publishes it through the real mochi broker to a paho
// scooter, whose ack comes back through the ingest; the cloud gets the
// scooter's reply. A failure status, an unknown vehicle and an offline vehicle
// with a short timeout give their outcomes.
func TestEndToEndScooterAck(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	w := newGatewayWorld(t, "861123456789012", "861123456789013")
	runLink(t, Config{Conn: dialGateway(t, srv.ClientURL()), Commands: w.commands, Store: openStore(t, t.TempDir()),
		Applier: &applier{}})
	w.scooter(t, "861123456789012", acker(t, "861123456789012"))
	waitSubscribed(t, srv)
	c := newCloud(t, srv.ClientURL())

	res, err := c.request(link.CommandRequest{V: link.Version, ID: "unlock-1", Vehicle: "861123456789012", Code: 1,
		Source: "ride", TimeoutMs: 5000}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != link.OutcomeAcked || res.ID != "unlock-1" || res.ReplyCode != 2 || res.Status == nil ||
		*res.Status != 0 || len(res.Reply) == 0 || res.Attempts != 1 || res.Source != "ride" {
		t.Errorf("unlock: %+v reply %s", res, res.Reply)
	}

	for _, tc := range []struct {
		name    string
		req     link.CommandRequest
		outcome link.Outcome
		err     string
	}{
		{"scooter refuses", link.CommandRequest{V: 1, ID: "lock-1", Vehicle: "861123456789012", Code: 3, TimeoutMs: 5000},
			link.OutcomeFailed, ""},
		{"unknown vehicle", link.CommandRequest{V: 1, ID: "u-1", Vehicle: "999999999999999", Code: 1, TimeoutMs: 5000},
			link.OutcomeRejected, ""},
		{"bad fields", link.CommandRequest{V: 1, ID: "f-1", Vehicle: "861123456789012", Code: 13,
			Fields: map[string]json.RawMessage{"k": json.RawMessage(`"fast"`)}, TimeoutMs: 5000}, link.OutcomeRejected, ""},
		{"offline vehicle", link.CommandRequest{V: 1, ID: "o-1", Vehicle: "861123456789013", Code: 1, TimeoutMs: 200},
			link.OutcomeTimeout, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.request(tc.req, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome || res.ID != tc.req.ID || !strings.Contains(res.Error, tc.err) {
				t.Errorf("%+v, want %s", res, tc.outcome)
			}
		})
	}
}
