package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/chtest"
	"github.com/fleetedge/fleetedge/shared/pgtest"
)

const (
	city      = "barcelona" // the simulator rides the Barcelona demo streets
	gatewayID = "faulttest-gw"
	ingestDur = "fleet-ingest" // the cloud's durable consumer (ingest.DefaultDurable)
)

// stackConfig sizes a test's system.
type stackConfig struct {
	scooters    int           // simulated scooters, split over simProcs scooter-sim processes
	simProcs    int           // default 1
	gpsInterval time.Duration // default 2 s
	chDSN       string        // ClickHouse DSN; empty: a fresh database on the local server (chtest)
}

// stack is one test's whole system: PostgreSQL and ClickHouse databases, the
// cloud (embedded NATS), one gateway, scooter-sim processes and a probe scooter.
type stack struct {
	t    *testing.T
	bins binaries
	cfg  stackConfig
	dir  string

	pg    *pgtest.DB
	chDSN string
	ch    clickhouse.Conn

	natsPort, cloudHTTP, mqttPort, gwHTTP int
	creds, vehicles, gwConfig             string
	probeID, probeSecret                  string

	cloud, gateway *proc
	sims           []*proc
	nCloud, nGw    int
	probe          *probe
}

func newStack(t *testing.T, cfg stackConfig) *stack {
	t.Helper()
	if cfg.simProcs == 0 {
		cfg.simProcs = 1
	}
	if cfg.gpsInterval == 0 {
		cfg.gpsInterval = 2 * time.Second
	}
	s := &stack{t: t, bins: build(t), cfg: cfg, dir: t.TempDir()}
	s.pg = pgtest.New(t)
	s.chDSN = cfg.chDSN
	if s.chDSN == "" {
		s.chDSN, _ = chtest.New(t)
	}
	opts, err := clickhouse.ParseDSN(s.chDSN)
	if err != nil {
		t.Fatal(err)
	}
	if s.ch, err = clickhouse.Open(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.ch.Close(); err != nil {
			t.Errorf("close ClickHouse: %v", err)
		}
	})
	s.natsPort, s.cloudHTTP, s.mqttPort, s.gwHTTP = freePort(t), freePort(t), freePort(t), freePort(t)

	// scooters + 1 vehicles: the last one is the probe, driven by this test.
	out, err := exec.Command(s.bins.sim, "provision", "--n", strconv.Itoa(cfg.scooters+1), "--out", s.dir,
		"--city", city, "--prefix", "FLT").CombinedOutput()
	if err != nil {
		t.Fatalf("scooter-sim provision: %v\n%s", err, out)
	}
	s.creds, s.vehicles = filepath.Join(s.dir, "sim-credentials.json"), filepath.Join(s.dir, "vehicles.json")
	var cf struct {
		Vehicles []struct{ ID, Secret string } `json:"vehicles"`
	}
	b, err := os.ReadFile(s.creds)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cf); err != nil || len(cf.Vehicles) != cfg.scooters+1 {
		t.Fatalf("credentials file: %v (%d vehicles)", err, len(cf.Vehicles))
	}
	s.probeID, s.probeSecret = cf.Vehicles[cfg.scooters].ID, cf.Vehicles[cfg.scooters].Secret

	// Cadence 0: every report carrying a field group is forwarded, so every
	// accepted record has a row in ClickHouse.
	s.gwConfig = filepath.Join(s.dir, "gateway.json")
	gc := `{"cloud": {"cadence": {"position": "0s", "speed": "0s", "signal": "0s", "battery": "0s", "status": "0s"}}}`
	if err := os.WriteFile(s.gwConfig, []byte(gc), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stack) cloudURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.cloudHTTP) }
func (s *stack) gwURL() string    { return fmt.Sprintf("http://127.0.0.1:%d", s.gwHTTP) }
func (s *stack) natsURL() string  { return fmt.Sprintf("nats://127.0.0.1:%d", s.natsPort) }

// startCloud starts the cloud on its data dir (the same one after a restart:
// the JetStream store survives) and waits for /readyz.
func (s *stack) startCloud() {
	s.t.Helper()
	s.startCloudProc()
	s.waitCloudReady()
}

// startCloudProc starts the cloud without waiting for it.
func (s *stack) startCloudProc() {
	s.t.Helper()
	s.nCloud++
	s.cloud = startProc(s.t, fmt.Sprintf("cloud#%d", s.nCloud), s.bins.cloud,
		"--data-dir", filepath.Join(s.dir, "cloud"),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", s.cloudHTTP),
		"--nats-host", "127.0.0.1", "--nats-port", strconv.Itoa(s.natsPort),
		"--pg-dsn", s.pg.AppDSN, "--pg-migrator-dsn", s.pg.MigratorDSN,
		"--ch-dsn", s.chDSN, "--startup-timeout", "90s",
		// The ingest role: NATS JetStream, the FLEET_UP consumer and the downlink, no APIs.
		"--role", "ingest")
}

func (s *stack) waitCloudReady() {
	s.t.Helper()
	waitFor(s.t, s.cloud.name+" ready", 90*time.Second, func() (bool, string) {
		code, b, err := httpGet(s.cloudURL() + "/readyz")
		return err == nil && code == 200, fmt.Sprintf("readyz %d %s %v", code, b, err)
	}, s.cloud)
}

// startGateway starts the gateway on its data dir and fixed ports and waits for /readyz.
func (s *stack) startGateway() {
	s.t.Helper()
	s.nGw++
	s.gateway = startProc(s.t, fmt.Sprintf("gateway#%d", s.nGw), s.bins.gateway,
		"--config", s.gwConfig, "--city", city, "--gateway-id", gatewayID,
		"--data-dir", filepath.Join(s.dir, "gateway"),
		"--mqtt-addr", fmt.Sprintf("127.0.0.1:%d", s.mqttPort),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", s.gwHTTP),
		"--vehicles", s.vehicles, "--cloud-nats-url", s.natsURL())
	waitFor(s.t, s.gateway.name+" ready", 60*time.Second, func() (bool, string) {
		code, b, err := httpGet(s.gwURL() + "/readyz")
		return err == nil && code == 200, fmt.Sprintf("readyz %d %s %v", code, b, err)
	}, s.gateway)
}

// startTraffic starts the scooter-sim processes and the probe, and waits until
// every scooter is online at the gateway.
func (s *stack) startTraffic() {
	s.t.Helper()
	for i := range s.cfg.simProcs {
		s.sims = append(s.sims, startProc(s.t, fmt.Sprintf("scooter-sim#%d", i+1), s.bins.sim, "run",
			"--broker", fmt.Sprintf("127.0.0.1:%d", s.mqttPort), "--creds", s.creds,
			"--n", strconv.Itoa(s.cfg.scooters), "--shard", fmt.Sprintf("%d/%d", i, s.cfg.simProcs),
			"--city", filepath.Join(s.bins.root, "deploy/demo/barcelona/streets.json"), "--zones", "",
			"--gps-interval", s.cfg.gpsInterval.String(), "--heartbeat-interval", "30s",
			"--status-every", "5s", "--reconnect-delay", "1s", "--vibration-per-hour", "0"))
	}
	s.probe = startProbe(s.t, fmt.Sprintf("127.0.0.1:%d", s.mqttPort), s.probeID, s.probeSecret)
	s.waitOnline()
}

// waitOnline waits until every scooter and the probe are online at the gateway.
func (s *stack) waitOnline() {
	s.t.Helper()
	waitFor(s.t, "scooters online", 60*time.Second, func() (bool, string) {
		st, err := s.status()
		return err == nil && st.Vehicles["online"] >= s.cfg.scooters+1, fmt.Sprintf("%+v %v", st.Vehicles, err)
	}, append([]*proc{s.gateway}, s.sims...)...)
}

// stopTraffic stops the scooters (gracefully) and the probe: from then on the
// outbox only gets what the gateway itself records.
func (s *stack) stopTraffic() {
	s.t.Helper()
	for _, p := range s.sims {
		p.stop(s.t, 30*time.Second)
	}
	s.probe.close()
}

type gwStatus struct {
	Vehicles map[string]int `json:"vehicles"`
	Outbox   struct {
		Records   uint64  `json:"records"`
		LastSeq   uint64  `json:"last_seq"`
		OldestAge float64 `json:"oldest_age_seconds"`
	} `json:"outbox"`
}

func (s *stack) status() (gwStatus, error) {
	var st gwStatus
	err := getJSON(s.gwURL()+"/api/v1/status", &st)
	return st, err
}

func (s *stack) mustStatus() gwStatus {
	s.t.Helper()
	st, err := s.status()
	if err != nil {
		s.t.Fatalf("gateway status: %v", err)
	}
	return st
}

func (s *stack) gwMetrics() (metrics, error)    { return scrape(s.gwURL() + "/metrics") }
func (s *stack) cloudMetrics() (metrics, error) { return scrape(s.cloudURL() + "/metrics") }

// consumer returns the ingest consumer's state from the cloud's NATS.
func (s *stack) consumer(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	nc, err := nats.Connect(s.natsURL(), nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	c, err := js.Consumer(ctx, link.StreamUp, ingestDur)
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

// chDistinct is the dedup-aware count of the gateway's records in ClickHouse
// (distinct (gateway, seq) over telemetry, events and commands) and the raw row count.
func (s *stack) chDistinct(ctx context.Context) (distinct, rows uint64, err error) {
	q := `SELECT uniqExact(gateway, seq), count() FROM (
 SELECT gateway, seq FROM telemetry WHERE gateway = ?
 UNION ALL SELECT gateway, seq FROM events WHERE gateway = ?
 UNION ALL SELECT gateway, seq FROM commands WHERE gateway = ?)`
	err = s.ch.QueryRow(ctx, q, gatewayID, gatewayID, gatewayID).Scan(&distinct, &rows)
	return distinct, rows, err
}

// chSeqs returns, per seq of the gateway, how many rows ClickHouse holds.
func (s *stack) chSeqs(ctx context.Context) (map[uint64]uint64, error) {
	q := `SELECT seq, count() FROM (
 SELECT seq FROM telemetry WHERE gateway = ?
 UNION ALL SELECT seq FROM events WHERE gateway = ?
 UNION ALL SELECT seq FROM commands WHERE gateway = ?) GROUP BY seq`
	rows, err := s.ch.Query(ctx, q, gatewayID, gatewayID, gatewayID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64]uint64{}
	for rows.Next() {
		var seq, n uint64
		if err := rows.Scan(&seq, &n); err != nil {
			return nil, err
		}
		out[seq] = n
	}
	return out, rows.Err()
}

// waitFlowing waits until records reach ClickHouse through the whole chain.
func (s *stack) waitFlowing(min uint64) {
	s.t.Helper()
	waitFor(s.t, "records flowing to ClickHouse", 60*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(s.t.Context(), 5*time.Second)
		defer cancel()
		n, _, err := s.chDistinct(ctx)
		return err == nil && n >= min, fmt.Sprintf("%d distinct records in ClickHouse (%v)", n, err)
	}, s.cloud, s.gateway)
}

// checkExactlyOnce waits until the gateway's outbox is empty and ClickHouse
// holds every seq 1..last_seq, then checks the uplink dropped nothing, no seq
// is beyond last_seq, and every PUBACKed probe report is there exactly once.
func (s *stack) checkExactlyOnce(timeout time.Duration) {
	t := s.t
	t.Helper()
	var (
		last       gwStatus
		seqs       map[uint64]uint64
		missing    []uint64
		beyond     int
		copies     uint64
		start      = time.Now()
		queryError error
	)
	waitFor(t, "ClickHouse holds every accepted record", timeout, func() (bool, string) {
		st, err := s.status()
		if err != nil {
			return false, fmt.Sprintf("gateway status: %v", err)
		}
		last = st
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		seqs, queryError = s.chSeqs(ctx)
		if queryError != nil {
			return false, fmt.Sprintf("ClickHouse: %v", queryError)
		}
		missing, beyond, copies = missing[:0], 0, 0
		for seq := uint64(1); seq <= st.Outbox.LastSeq; seq++ {
			if seqs[seq] == 0 {
				missing = append(missing, seq)
			}
		}
		for seq, n := range seqs {
			if seq > st.Outbox.LastSeq || seq == 0 {
				beyond++
			}
			copies += n - 1
		}
		desc := fmt.Sprintf("outbox %d records, last_seq %d; ClickHouse %d distinct seqs, %d missing (first %v), %d beyond last_seq",
			st.Outbox.Records, st.Outbox.LastSeq, len(seqs), len(missing), missing[:min(len(missing), 10)], beyond)
		if m, err := s.gwMetrics(); err == nil {
			desc += fmt.Sprintf("; uplink downsampled %v, invalid %v", m["fleetedge_uplink_downsampled_reports_total"], m["fleetedge_uplink_invalid_records_total"])
		}
		return st.Outbox.Records == 0 && len(missing) == 0, desc
	}, s.gateway, s.cloud)
	if beyond > 0 {
		t.Errorf("ClickHouse holds %d seqs the gateway never assigned (last_seq %d)", beyond, last.Outbox.LastSeq)
	}
	// The dedup-aware count the cloud's queries use agrees.
	ctx := ctxFor(t, 30*time.Second)
	distinct, rows, err := s.chDistinct(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if distinct != last.Outbox.LastSeq {
		t.Errorf("uniqExact(gateway, seq) = %d, gateway last_seq %d", distinct, last.Outbox.LastSeq)
	}
	m, err := s.gwMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if d, inv := m["fleetedge_uplink_downsampled_reports_total"], m["fleetedge_uplink_invalid_records_total"]; d != 0 || inv != 0 {
		t.Errorf("uplink downsampled %v reports and dropped %v invalid records; with cadence 0 both must be 0", d, inv)
	}
	cm, err := s.cloudMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if dead := cm["fleetedge_ingest_dead_lettered_total"]; dead != 0 {
		t.Errorf("the ingest dead-lettered %v messages", dead)
	}
	t.Logf("exactly once: %d records (seq 1..%d) in ClickHouse, %d raw rows (%d duplicate copies removed by the dedup-aware queries); settled %v after the check began",
		distinct, last.Outbox.LastSeq, rows, copies, time.Since(start).Round(time.Millisecond))
	s.logBreakdown(ctx)
	s.checkProbe(ctx)
}

// logBreakdown logs what the records are: telemetry rows and events by kind.
func (s *stack) logBreakdown(ctx context.Context) {
	t := s.t
	t.Helper()
	q := `SELECT 'telemetry', uniqExact(gateway, seq) FROM telemetry WHERE gateway = ?
 UNION ALL SELECT concat('event:', kind), uniqExact(gateway, seq) FROM events WHERE gateway = ? GROUP BY kind
 UNION ALL SELECT 'command', uniqExact(gateway, seq) FROM commands WHERE gateway = ?`
	rows, err := s.ch.Query(ctx, q, gatewayID, gatewayID, gatewayID)
	if err != nil {
		t.Errorf("breakdown: %v", err)
		return
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var what string
		var n uint64
		if err := rows.Scan(&what, &n); err != nil {
			t.Errorf("breakdown: %v", err)
			return
		}
		parts = append(parts, fmt.Sprintf("%s=%d", what, n))
	}
	slices.Sort(parts)
	t.Logf("records in ClickHouse: %s", strings.Join(parts, " "))
}

// checkProbe: the probe's records in ClickHouse number at least the reports
// the gateway PUBACKed and at most the reports sent (none lost, none twice);
// and every PUBACKed report's own position is stored exactly once.
// That holds after resends and redeliveries too: the ingest once stored a record
// processed after a newer one with the newer position (rows were built from the
// merged live state), which this check caught.
func (s *stack) checkProbe(ctx context.Context) {
	t := s.t
	t.Helper()
	acked, sent := s.probe.result()
	var stored uint64
	if err := s.ch.QueryRow(ctx, `SELECT uniqExact(gateway, seq) FROM telemetry WHERE vehicle = ?`, s.probeID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored < uint64(len(acked)) || stored > uint64(sent) {
		t.Errorf("probe: %d distinct records in ClickHouse; want between %d (PUBACKed) and %d (sent)", stored, len(acked), sent)
	}
	report := t.Errorf
	// The probe's n is encoded in the fix's latitude: 41°(20 + n/10000 + (n%10000)/10000)'.
	q := `SELECT toInt64(round((lat - 41) * 600000)) - 200000 AS n, uniqExact(gateway, seq)
 FROM telemetry WHERE vehicle = ? GROUP BY n`
	rows, err := s.ch.Query(ctx, q, s.probeID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int64]uint64{}
	for rows.Next() {
		var n int64
		var c uint64
		if err := rows.Scan(&n, &c); err != nil {
			t.Fatal(err)
		}
		got[n] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var lost, twice []int64
	for n := range acked {
		if got[int64(n)] != 1 {
			lost = append(lost, int64(n))
		}
	}
	for n, c := range got {
		if c > 1 || n < 0 || n >= int64(sent) {
			twice = append(twice, n)
		}
	}
	slices.Sort(lost)
	slices.Sort(twice)
	if len(lost) > 0 {
		report("%d of %d PUBACKed probe reports do not have their own position in ClickHouse exactly once: %v", len(lost), len(acked), lost[:min(len(lost), 20)])
		s.dumpProbeRows(ctx)
	}
	if len(twice) > 0 {
		report("probe positions stored as more than one record (or never sent): %v", twice[:min(len(twice), 20)])
	}
	t.Logf("probe: %d reports sent, %d PUBACKed, %d distinct records stored; %d PUBACKed positions not stored exactly once", sent, len(acked), stored, len(lost))
}

// dumpProbeRows logs the probe's rows whose position repeats the previous
// row's: a record that carries its own fix but was stored with another one.
func (s *stack) dumpProbeRows(ctx context.Context) {
	t := s.t
	q := `SELECT seq, time, ms, toInt64(round((lat - 41) * 600000)) - 200000 AS n FROM telemetry
 WHERE vehicle = ? ORDER BY seq`
	rows, err := s.ch.Query(ctx, q, s.probeID)
	if err != nil {
		t.Errorf("probe rows: %v", err)
		return
	}
	defer rows.Close()
	prev, shown := int64(-1), 0
	for rows.Next() {
		var (
			seq uint64
			at  time.Time
			ms  uint16
			n   int64
		)
		if err := rows.Scan(&seq, &at, &ms, &n); err != nil {
			t.Errorf("probe rows: %v", err)
			return
		}
		if n == prev && shown < 5 {
			t.Logf("probe row seq %d received %s.%03d carries the fix of report %d (as the row before it)", seq, at.Format(time.TimeOnly), ms, n)
			shown++
		}
		prev = n
	}
}

// probe is a scooter driven by the test: QoS 1 GPS reports, each with a unique
// position, recording which ones the gateway acknowledged. It reconnects after
// the gateway went away.
type probe struct {
	mu    sync.Mutex
	acked map[int]bool
	sent  int
	stop  chan struct{}
	done  chan struct{}
}

func startProbe(t *testing.T, addr, id, secret string) *probe {
	p := &probe{acked: map[int]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(addr, id, secret)
	t.Cleanup(p.close)
	return p
}

func (p *probe) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *probe) result() (map[int]bool, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.acked), p.sent
}

func (p *probe) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

const probeInterval = 50 * time.Millisecond

func (p *probe) run(addr, id, secret string) {
	defer close(p.done)
	var c paho.Client
	defer func() {
		if c != nil {
			c.Disconnect(100)
		}
	}()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if c == nil {
			o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(id).SetPassword(secret).
				SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(2 * time.Second).
				SetProtocolVersion(4).SetWriteTimeout(2 * time.Second).SetCleanSession(true)
			cl := paho.NewClient(o)
			if tok := cl.Connect(); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
				continue
			}
			c = cl
		}
		payload := fmt.Sprintf(`{"a":19,"i":"%s","g":"41%02d.%04d,210.1234,0,0","t":%d}`,
			id, 20+n/10000, n%10000, time.Now().Unix())
		p.mu.Lock()
		p.sent = n + 1
		p.mu.Unlock()
		tok := c.Publish("bike", 1, false, payload)
		if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			p.mu.Lock()
			p.acked[n] = true
			p.mu.Unlock()
		} else {
			c.Disconnect(0)
			c = nil
		}
		n++
	}
}

// simStatus is the last status line of a scooter-sim process.
func simStatus(p *proc) string {
	lines := p.out.grep("published=")
	if len(lines) == 0 {
		return "(no status line)"
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
