package command_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// scooterStub stands for the broker (broker.Server in the gateway): it prints
// what would go to the scooter.
type scooterStub struct{ sent chan string }

func (s *scooterStub) Publish(topic string, payload []byte, qos byte) error {
	s.sent <- fmt.Sprintf("publish %s qos %d %s", topic, qos, payload)
	return nil
}

type printSink struct{}

func (printSink) Emit(ev link.Event) {
	fmt.Printf("event %s %s code %d %s\n", ev.Kind, ev.Vehicle, ev.Command.Code, ev.Command.Outcome)
}

// The gateway wires the Manager between the broker (Publisher), the outbox
// (EventSink) and the ingest hook (OnReply, VehicleOnline/Offline); rules fire
// and forget, the UI and the cloud link wait for the outcome.
func Example() {
	pub := &scooterStub{sent: make(chan string, 1)}
	m, err := command.New(command.Config{Publisher: pub, Events: printSink{}})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	// Ingest hook: the scooter subscribed to its topic.
	m.VehicleOnline("12AB")

	// A rule: fire and forget (never blocks the ingest goroutine).
	lim, _ := protocol.NewSetSpeedLimit(15)
	p := m.Send(context.Background(), "12AB", lim, command.Options{Source: "rule"})

	fmt.Println(<-pub.sent)

	// Ingest hook: the scooter's ack arrived (on "bike", "o" or its own topic).
	m.OnReply("12AB", &protocol.SetSpeedLimitReply{Header: protocol.Header{From: "12AB"}}, time.Now())

	// The UI: wait for the outcome.
	r, _ := p.Wait(context.Background())
	fmt.Println(r.Outcome, r.Attempts, r.ReplyCode, *r.Status)
	// Output:
	// publish 12AB qos 1 {"a":13,"k":2015}
	// event command_result 12AB code 13 acked
	// acked 1 14 0
}
