package faulttest

import (
	"fmt"
	"testing"
	"time"
)

// TestNATSDown: 1,000 simulated scooters (two scooter-sim processes) keep
// reporting while the cloud, which hosts NATS JetStream, is down (20 s; 2 min
// with -long). The gateway keeps accepting (the probe scooter's reports are
// PUBACKed throughout), its outbox grows, and after the cloud restarts on the
// same data dir the backlog drains: ClickHouse holds every seq the gateway
// assigned exactly once.
func TestNATSDown(t *testing.T) {
	s := newStack(t, stackConfig{scooters: 1000, simProcs: 2})
	s.startCloud()
	s.startGateway()
	s.startTraffic()
	s.waitFlowing(1000)

	down := natsDown()
	s.cloud.stop(t, 30*time.Second)
	outage := time.Now()
	before := s.mustStatus()
	ackedBefore := s.probe.ackedCount()
	// The outage itself is a fixed period (it is the fault); meanwhile every
	// second the processes must stay up.
	for time.Since(outage) < down {
		time.Sleep(time.Second)
		for _, p := range append([]*proc{s.gateway}, s.sims...) {
			if p.exited() {
				t.Fatalf("%s exited during the outage: %s", p.name, p.state())
			}
		}
	}
	during := s.mustStatus()
	ackedDuring := s.probe.ackedCount() - ackedBefore
	m, err := s.gwMetrics()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cloud down %v: outbox %d → %d records (last_seq %d → %d); probe reports PUBACKed meanwhile: %d; uplink connected=%v",
		down.Round(time.Second), before.Outbox.Records, during.Outbox.Records, before.Outbox.LastSeq, during.Outbox.LastSeq,
		ackedDuring, m["fleetedge_uplink_connected"])
	if m["fleetedge_uplink_connected"] != 0 {
		t.Errorf("uplink reports connected while the cloud is down")
	}
	if grown := during.Outbox.LastSeq - before.Outbox.LastSeq; grown < uint64(s.cfg.scooters) {
		t.Errorf("only %d records accepted during the outage", grown)
	}
	if want := int(down / probeInterval / 2); ackedDuring < want {
		t.Errorf("probe: %d reports PUBACKed during the outage, want ≥ %d (the gateway must keep accepting)", ackedDuring, want)
	}

	s.startCloud()
	back := time.Now()
	waitFor(t, "backlog drained", 3*time.Minute, func() (bool, string) {
		st, err := s.status()
		return err == nil && st.Outbox.Records < during.Outbox.Records/10, fmt.Sprintf("outbox %d records (%v)", st.Outbox.Records, err)
	}, s.gateway, s.cloud)
	t.Logf("backlog of %d records drained to JetStream %v after the cloud came back", during.Outbox.Records, time.Since(back).Round(time.Millisecond))
	for _, p := range s.sims {
		t.Logf("%s: %s", p.name, simStatus(p))
	}
	s.stopTraffic()
	s.checkExactlyOnce(2 * time.Minute)
}
