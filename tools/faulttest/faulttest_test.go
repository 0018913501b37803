package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/protocol/link"
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

// outageBacklog stops the cloud gracefully and waits until the gateway's outbox
// holds at least n records.
func (s *stack) outageBacklog(n uint64) gwStatus {
	t := s.t
	t.Helper()
	s.cloud.stop(t, 30*time.Second)
	var st gwStatus
	waitFor(t, "backlog in the gateway's outbox", 2*time.Minute, func() (bool, string) {
		var err error
		st, err = s.status()
		return err == nil && st.Outbox.Records >= n, fmt.Sprintf("outbox %d records (%v)", st.Outbox.Records, err)
	}, append([]*proc{s.gateway}, s.sims...)...)
	return st
}

// TestGatewayKilledDuringDrain: with a backlog built while the cloud was down,
// the cloud comes back and the gateway is SIGKILLed as soon as the uplink has
// published part of the backlog (messages acknowledged, the rest still in the
// outbox or in flight). Restarted on the same data dir and ports (the scooters
// reconnect), it resends what was not deleted: ClickHouse still holds every
// seq exactly once.
func TestGatewayKilledDuringDrain(t *testing.T) {
	s := newStack(t, stackConfig{scooters: 1000, simProcs: 2})
	s.startCloud()
	s.startGateway()
	s.startTraffic()
	s.waitFlowing(1000)

	backlog := s.outageBacklog(8000)
	reconnects := len(s.gateway.out.grep("nats reconnected"))
	// Watch the stream from the cloud's side: the moment the first message of
	// the drain lands in JetStream, the gateway dies. The uplink has up to 16
	// messages in flight, so some are stored and acknowledged, the rest are not,
	// and none of them is deleted from the outbox yet. The stream's state is
	// read as soon as the restarted cloud's NATS answers, before its readiness:
	// the gateway's reconnect backoff (up to 10 s) must not beat the watch.
	s.startCloudProc()
	ctx := ctxFor(t, 3*time.Minute)
	var stream jetstream.Stream
	for deadline := time.Now().Add(90 * time.Second); stream == nil; time.Sleep(2 * time.Millisecond) {
		if s.cloud.exited() || time.Now().After(deadline) {
			t.Fatalf("the restarted cloud's FLEET_UP never became reachable (cloud %s)", s.cloud.state())
		}
		nc, err := nats.Connect(s.natsURL(), nats.Timeout(time.Second), nats.NoReconnect())
		if err != nil {
			continue
		}
		js, err := jetstream.New(nc)
		if err == nil {
			stream, err = js.Stream(ctx, link.StreamUp)
		}
		if err != nil {
			nc.Close()
			continue
		}
		t.Cleanup(nc.Close)
	}
	lastSeq := func() uint64 {
		t.Helper()
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	s0 := lastSeq()
	if n := len(s.gateway.out.grep("nats reconnected")); n != reconnects {
		t.Fatalf("the gateway reconnected before the stream could be watched (rare: its backoff ended within milliseconds of the cloud's NATS start): rerun")
	}
	deadline := time.Now().Add(90 * time.Second)
	for lastSeq() == s0 {
		if s.gateway.exited() || s.cloud.exited() {
			t.Fatalf("gateway %s, cloud %s before the drain began", s.gateway.state(), s.cloud.state())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the uplink did not start draining within 90 s of the cloud's restart")
		}
		time.Sleep(time.Millisecond)
	}
	s.gateway.sigkill(t)
	s1 := lastSeq()
	s.waitCloudReady()
	t.Logf("SIGKILLed the gateway as its drain began: backlog %d records; %d messages of it reached JetStream from the killed gateway",
		backlog.Outbox.Records, s1-s0)

	s.startGateway()
	restart := s.mustStatus()
	s.waitOnline()
	waitFor(t, "backlog drained after the restart", 2*time.Minute, func() (bool, string) {
		st, err := s.status()
		return err == nil && st.Outbox.Records < 2000, fmt.Sprintf("outbox %d records (%v)", st.Outbox.Records, err)
	}, s.gateway, s.cloud)
	s.stopTraffic()
	s.checkExactlyOnce(2 * time.Minute)
	// What the restarted gateway published beyond the records it accepted
	// itself was left in the outbox by the killed one: the resend.
	final := s.mustStatus()
	if m, err := s.gwMetrics(); err == nil {
		published := m.sum("fleetedge_uplink_published_records_total")
		own := float64(final.Outbox.LastSeq - restart.Outbox.LastSeq)
		t.Logf("the restarted gateway published %v records, about %v of them left undeleted by the killed one (last_seq %d at restart, %d at the end)",
			published, published-own, restart.Outbox.LastSeq, final.Outbox.LastSeq)
		if published-own <= 0 {
			t.Errorf("the restarted gateway resent nothing: the kill did not interrupt the drain")
		}
	}
}

// TestCloudKilledMidBatch: the cloud's ingest is SIGKILLed while it works
// through a backlog in JetStream — after it wrote at least one batch and while
// messages are delivered but not acknowledged. After a restart on the same
// data dir those messages are redelivered (written again when the first write
// had landed): ClickHouse counts every seq once, none missing.
func TestCloudKilledMidBatch(t *testing.T) {
	t.Parallel() // mostly waiting for the ack wait; runs beside TestClickHouseDown
	s := newStack(t, stackConfig{scooters: 500})
	s.startCloud()
	s.startGateway()
	s.startTraffic()
	s.waitFlowing(1000)

	backlog := s.outageBacklog(4000)
	s.startCloudProc()
	var (
		info  *jetstream.ConsumerInfo
		taken float64
	)
	deadline := time.Now().Add(90 * time.Second)
	for {
		// The consumer is read last, right before the kill: the ingest acks once per
		// flush (~0.5 s), so an ack landing in the gap is unlikely.
		m, merr := s.cloudMetrics()
		st, serr := s.status()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		ci, err := s.consumer(ctx)
		cancel()
		// The backlog is in the stream, the ingest wrote a batch and holds
		// delivered messages it has not acknowledged.
		if err == nil && merr == nil && serr == nil && st.Outbox.Records < backlog.Outbox.Records/2 &&
			m.sum("fleetedge_ingest_rows_total") > 0 && ci.NumAckPending > 0 {
			info, taken = ci, m["fleetedge_ingest_messages_total"]
			s.cloud.sigkill(t)
			break
		}
		if s.cloud.exited() || s.gateway.exited() {
			t.Fatalf("cloud %s, gateway %s before the ingest got going", s.cloud.state(), s.gateway.state())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no batch in progress seen within 90 s of the cloud's restart")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("SIGKILLed the cloud mid-batch: backlog %d records; %v messages taken by the ingest, %d delivered and not acknowledged, %d still pending in the stream",
		backlog.Outbox.Records, taken, info.NumAckPending, info.NumPending)

	s.startCloud()
	// What the killed process held stays unacknowledged until the ack wait (60 s) ends, so
	// the ack floor stays below the deliveries seen before the kill (the new process's acks
	// are for later deliveries). If it does not, the batch's ack reached the server in the
	// instant between reading the consumer and the kill: the kill fell between two batches
	// this time and there is no redelivery to wait for (exactly-once is still checked below).
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	after, err := s.consumer(ctx)
	cancel()
	if err != nil {
		t.Fatalf("consumer after the restart: %v", err)
	}
	interrupted := after.AckFloor.Consumer < info.Delivered.Consumer
	if !interrupted {
		t.Logf("the batch was acknowledged right before the kill: no redelivery expected")
	}
	waitFor(t, "gateway backlog drained after the restart", 2*time.Minute, func() (bool, string) {
		st, err := s.status()
		return err == nil && st.Outbox.Records < 2000, fmt.Sprintf("outbox %d records (%v)", st.Outbox.Records, err)
	}, s.gateway, s.cloud)
	s.stopTraffic()
	// Messages delivered to the killed process come back after the consumer's
	// ack wait (60 s): the check waits for them.
	s.checkExactlyOnce(3 * time.Minute)
	if !interrupted {
		return
	}
	// The rows of the interrupted batch may all be in ClickHouse already (written,
	// not acknowledged): the check above can pass before JetStream redelivers. The
	// evidence that the kill interrupted a batch is the redelivery itself, which
	// comes after the ack wait (60 s); wait for it, then check again.
	var ci *jetstream.ConsumerInfo
	waitFor(t, "the interrupted batch redelivered", 2*time.Minute, func() (bool, string) {
		ctx := ctxFor(t, 5*time.Second)
		var err error
		if ci, err = s.consumer(ctx); err != nil {
			return false, err.Error()
		}
		return ci.Delivered.Consumer > ci.Delivered.Stream, fmt.Sprintf("%d deliveries for %d stream messages",
			ci.Delivered.Consumer, ci.Delivered.Stream)
	}, s.gateway, s.cloud)
	t.Logf("consumer: %d deliveries for %d stream messages: %d redeliveries", ci.Delivered.Consumer, ci.Delivered.Stream,
		ci.Delivered.Consumer-ci.Delivered.Stream)
	s.checkExactlyOnce(time.Minute)
}

// chServer is a ClickHouse server of this test alone (deploy/local/clickhouse.sh
// with its own directory and ports), so stopping it disturbs no other test.
type chServer struct {
	t         *testing.T
	script    string
	env       []string
	tcp, http int
	dir       string
}

const chDB = "faulttest"

func startCHServer(t *testing.T, root string) *chServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "faulttest-ch-")
	if err != nil {
		t.Fatal(err)
	}
	// The server runs as user clickhouse (as root): it must reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &chServer{t: t, script: filepath.Join(root, "deploy/local/clickhouse.sh"), tcp: freePort(t), http: freePort(t), dir: dir}
	c.env = append(os.Environ(), "FLEETEDGE_CH_DIR="+dir, "FLEETEDGE_CH_TCP_PORT="+strconv.Itoa(c.tcp),
		"FLEETEDGE_CH_HTTP_PORT="+strconv.Itoa(c.http), "FLEETEDGE_CH_DB="+chDB)
	t.Cleanup(func() {
		if err := c.run("stop"); err != nil {
			t.Errorf("%v", err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := c.run("start"); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *chServer) dsn() string { return fmt.Sprintf("clickhouse://127.0.0.1:%d/%s", c.tcp, chDB) }

func (c *chServer) run(action string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", c.script, action)
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("clickhouse.sh %s: %w\n%s", action, err, out)
	}
	return nil
}

// TestClickHouseDown: ClickHouse stops for a while (15 s; 1 min with -long)
// under 500 reporting scooters. The gateway keeps draining its outbox into
// JetStream, the ingest's writes fail and it naks, so the backlog stays in the
// stream; when ClickHouse is back the backlog is written and ClickHouse holds
// every seq exactly once.
func TestClickHouseDown(t *testing.T) {
	t.Parallel()
	chs := startCHServer(t, build(t).root)
	s := newStack(t, stackConfig{scooters: 500, chDSN: chs.dsn()})
	s.startCloud()
	s.startGateway()
	s.startTraffic()
	s.waitFlowing(500)

	m0, err := s.cloudMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if err := chs.run("stop"); err != nil {
		t.Fatal(err)
	}
	down, begin := chDown(), time.Now()
	var maxOutbox uint64
	for time.Since(begin) < down {
		time.Sleep(time.Second)
		for _, p := range append([]*proc{s.gateway, s.cloud}, s.sims...) {
			if p.exited() {
				t.Fatalf("%s exited while ClickHouse was down: %s", p.name, p.state())
			}
		}
		if st, err := s.status(); err == nil {
			maxOutbox = max(maxOutbox, st.Outbox.Records)
		}
	}
	ctx := ctxFor(t, 5*time.Second)
	ci, err := s.consumer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := s.cloudMetrics()
	if err != nil {
		t.Fatal(err)
	}
	end := s.mustStatus()
	naks := m1["fleetedge_ingest_naks_total"] - m0["fleetedge_ingest_naks_total"]
	writeErrs := m1["fleetedge_ingest_write_errors_total"] - m0["fleetedge_ingest_write_errors_total"]
	t.Logf("ClickHouse down %v: gateway outbox at most %d records; JetStream holds %d undelivered + %d unacknowledged messages; ingest %v failed writes, %v naks",
		down.Round(time.Second), maxOutbox, ci.NumPending, ci.NumAckPending, writeErrs, naks)
	if ci.NumPending+uint64(ci.NumAckPending) == 0 {
		t.Errorf("no backlog in JetStream while ClickHouse was down")
	}
	if maxOutbox > 2000 {
		t.Errorf("the gateway's outbox grew to %d records: the uplink stopped draining into JetStream", maxOutbox)
	}
	if naks == 0 || writeErrs == 0 {
		t.Errorf("the ingest did not nak (%v naks, %v failed writes) while ClickHouse was down", naks, writeErrs)
	}
	if dead := m1["fleetedge_ingest_dead_lettered_total"]; dead != 0 {
		t.Errorf("%v messages dead-lettered because ClickHouse was down", dead)
	}

	if err := chs.run("start"); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	waitFor(t, "backlog written to ClickHouse", 2*time.Minute, func() (bool, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		n, _, err := s.chDistinct(ctx)
		return err == nil && n >= end.Outbox.LastSeq, fmt.Sprintf("%d of the %d records accepted by the end of the outage in ClickHouse (%v)", n, end.Outbox.LastSeq, err)
	}, s.gateway, s.cloud)
	t.Logf("the backlog (%d records) was in ClickHouse %v after it came back", end.Outbox.LastSeq, time.Since(back).Round(time.Millisecond))
	s.stopTraffic()
	s.checkExactlyOnce(2 * time.Minute)
}
