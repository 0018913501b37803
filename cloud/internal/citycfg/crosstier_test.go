package citycfg

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// TestZoneChangeReachesARunningGateway runs the real gateway binary (edge/cmd/gateway)
// against the cloud's NATS, with nothing configured locally: the vehicles and zones come
// from the admin API through citycfg and the downlink. A scooter (a minimal MQTT client)
// rides into a slow zone and gets 13 with the zone's limit; an admin then uploads a new
// geofencing version (the zone slower, a new slow zone elsewhere) and the next GPS fixes
// get the new limits.
func TestZoneChangeReachesARunningGateway(t *testing.T) {
	t.Parallel()
	bin := buildGateway(t)
	b := openBus(t, 0)
	d := newDownlink(t, b)
	e := newEnv(t, d)
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "timezone": "Europe/Madrid", "currency": "EUR"})
	secret, hash, err := devicecred.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", "/admin/v1/cities/bcn/vehicles/import", map[string]any{"vehicles": []map[string]any{
		{"number": "BCN00001", "credential_hash": hash, "normal_speed_limit_kmh": 25}}})
	// Zone A: 41.380-41.390 N, 2.170-2.180 E. Zone B (version 2 only): 41.400-41.410 N.
	zonesV1 := gbfsDoc(zoneFeature("zone-a", 2.17, 41.38, 10))
	zonesV2 := gbfsDoc(zoneFeature("zone-a", 2.17, 41.38, 6), zoneFeature("zone-b", 2.17, 41.40, 15))
	var put struct{ Config []DocStateBody }
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", zonesV1).JSON(t, &put)

	gw := startGateway(t, bin, b.ClientURL())
	gw.waitLog(t, `"msg":"configuration applied"`, `"kind":"vehicles"`)
	gw.waitLog(t, `"msg":"configuration applied"`, `"kind":"zones"`, fmt.Sprintf(`"version":%d`, put.Config[0].Version))

	sc := dialScooter(t, gw.mqtt, "BCN00001", secret)
	sc.publish(t, `{"a":27,"i":"BCN00001","b":90,"c":0,"s":0,"r":37.5}`) // powered on: riding
	sc.fix(t, 41.370, 2.175)                                             // outside every zone
	sc.fix(t, 41.385, 2.175)                                             // inside zone A
	if k := sc.waitLimit(t); k != 2010 {
		t.Fatalf("entering zone A (10 km/h): 13 with k=%d", k)
	}

	start := time.Now()
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", zonesV2).JSON(t, &put)
	if put.Config[0].Pending {
		t.Fatalf("zones v2 not pushed: %+v", put.Config)
	}
	answered := time.Since(start)
	gw.waitLog(t, `"msg":"configuration applied"`, `"kind":"zones"`, fmt.Sprintf(`"version":%d`, put.Config[0].Version))
	applied := time.Since(start)
	sc.fix(t, 41.3851, 2.1751) // still in zone A, whose limit is now 6
	if k := sc.waitLimit(t); k != 2006 {
		t.Fatalf("next fix in zone A after the change: 13 with k=%d, want 2006", k)
	}
	t.Logf("zone change: PUT answered (pushed) after %v, applied by the gateway after ≤%v (log polled every 10 ms), next fix's 13 after %v",
		answered.Round(time.Millisecond), applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	sc.fix(t, 41.395, 2.175) // between the zones: back to the normal limit
	if k := sc.waitLimit(t); k != 2025 {
		t.Fatalf("leaving zone A: k=%d, want 2025", k)
	}
	sc.fix(t, 41.405, 2.175) // the new zone B
	if k := sc.waitLimit(t); k != 2015 {
		t.Fatalf("entering the new zone B (15 km/h): k=%d, want 2015", k)
	}
}

func zoneFeature(id string, lon, lat float64, kph int) string {
	const d = 0.01
	return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"MultiPolygon","coordinates":[[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]]},
		"properties":{"rules":[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true,"maximum_speed_kph":%d}]}}`,
		id, lon, lat, lon+d, lat, lon+d, lat+d, lon, lat+d, lon, lat, kph)
}

func gbfsDoc(features ...string) string {
	return `{"last_updated":"2026-11-25T00:00:00Z","ttl":60,"version":"3.0","data":{"geofencing_zones":{"type":"FeatureCollection","features":[` +
		strings.Join(features, ",") + `]},"global_rules":[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true}]}}`
}

var gatewayBuild struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

// buildGateway builds edge/cmd/gateway once per test binary (removed in TestMain).
func buildGateway(t *testing.T) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "env", "GOWORK").Output()
	if w := strings.TrimSpace(string(out)); err != nil || w == "" || w == "off" {
		t.Skip("needs the workspace (go.work) to build the gateway")
	}
	gb := &gatewayBuild
	gb.once.Do(func() {
		if gb.dir, gb.err = os.MkdirTemp("", "citycfg-gateway-"); gb.err != nil {
			return
		}
		gb.bin = filepath.Join(gb.dir, "gateway")
		gb.out, gb.err = exec.Command(gobin, "build", "-o", gb.bin, "github.com/fleetedge/fleetedge/edge/cmd/gateway").CombinedOutput()
	})
	if gb.err != nil {
		t.Fatalf("build gateway: %v\n%s", gb.err, gb.out)
	}
	return gb.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{gatewayBuild.dir, fleetctlBuild.dir} {
		if dir != "" {
			_ = os.RemoveAll(dir) // a temporary build directory; nothing to report
		}
	}
	os.Exit(code)
}

// gatewayProc is a running gateway binary; its JSON log lines are kept.
type gatewayProc struct {
	cmd  *exec.Cmd
	mqtt string
	mu   sync.Mutex
	logs []string
	done chan struct{}
}

func startGateway(t *testing.T, bin, natsURL string) *gatewayProc {
	t.Helper()
	cmd := exec.Command(bin, "--city", "bcn", "--gateway-id", "bcn-gw-1", "--data-dir", t.TempDir(),
		"--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--cloud-nats-url", natsURL,
		"--log-format", "json", "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(g.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			g.mu.Lock()
			g.logs = append(g.logs, sc.Text())
			g.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // graceful first; Wait reports how it ended
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		if t.Failed() {
			g.mu.Lock()
			t.Logf("gateway log:\n%s", strings.Join(g.logs, "\n"))
			g.mu.Unlock()
		}
	})
	line := g.waitLog(t, `"msg":"gateway ready"`)
	var ready struct {
		MQTT string `json:"mqtt_tcp"`
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.MQTT == "" {
		t.Fatalf("ready line %s: %v", line, err)
	}
	g.mqtt = ready.MQTT
	return g
}

// waitLog waits for a log line containing every part and returns it.
func (g *gatewayProc) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		g.mu.Lock()
		for _, l := range g.logs {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				g.mu.Unlock()
				return l
			}
		}
		g.mu.Unlock()
		select {
		case <-g.done:
			t.Fatalf("gateway exited before logging %q", parts)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not log %q", parts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scooter is a minimal MQTT 3.1.1 client speaking PROTOCOL.md: it publishes reports on
// "bike" (QoS 1), receives commands on its own topic, acks 13 with 14.
type scooter struct {
	id       string
	conn     net.Conn
	wmu      sync.Mutex
	nextID   uint16
	acks     chan uint16
	commands chan map[string]any
}

func dialScooter(t *testing.T, addr, id, secret string) *scooter {
	t.Helper()
	var conn net.Conn
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		body = appendStr(body, "MQTT")
		body = append(body, 4, 0xC2, 0, 60) // level 4; username, password, clean session; keepalive 60 s
		body = appendStr(body, id)
		body = appendStr(body, id)
		body = appendStr(body, secret)
		if _, err := c.Write(packet(0x10, body)); err != nil {
			t.Fatal(err)
		}
		typ, p, err := readPacket(c)
		if err == nil && typ == 0x20 && len(p) == 2 && p[1] == 0 {
			conn = c
			break
		}
		_ = c.Close() // refused (the vehicles document may still be on its way): retry
		if time.Now().After(deadline) {
			t.Fatalf("CONNECT refused: type %#x %v %v", typ, p, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := &scooter{id: id, conn: conn, acks: make(chan uint16, 16), commands: make(chan map[string]any, 16)}
	t.Cleanup(func() { _ = conn.Close() })
	sub := []byte{0, 1}
	sub = appendStr(sub, id)
	sub = append(sub, 1)
	s.write(t, packet(0x82, sub))
	if typ, _, err := readPacket(conn); err != nil || typ != 0x90 {
		t.Fatalf("SUBACK: %#x %v", typ, err)
	}
	s.nextID = 1
	go s.read()
	return s
}

func (s *scooter) read() {
	for {
		typ, p, err := readPacket(s.conn)
		if err != nil {
			close(s.commands)
			return
		}
		switch typ & 0xF0 {
		case 0x40: // PUBACK
			if len(p) >= 2 {
				s.acks <- binary.BigEndian.Uint16(p)
			}
		case 0x30: // PUBLISH from the gateway
			qos := (typ >> 1) & 3
			if len(p) < 2 {
				continue
			}
			n := int(binary.BigEndian.Uint16(p))
			rest := p[2+n:]
			if qos > 0 {
				pid := rest[:2]
				rest = rest[2:]
				s.wmu.Lock()
				_, _ = s.conn.Write(packet(0x40, pid)) // the reader stops on the next read error
				s.wmu.Unlock()
			}
			var cmd map[string]any
			if json.Unmarshal(rest, &cmd) == nil {
				s.commands <- cmd
			}
		}
	}
}

func (s *scooter) write(t *testing.T, pkt []byte) {
	t.Helper()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
}

// publish sends a report on "bike" at QoS 1 and waits for its PUBACK.
func (s *scooter) publish(t *testing.T, payload string) {
	t.Helper()
	s.nextID++
	id := s.nextID
	var body []byte
	body = appendStr(body, "bike")
	body = binary.BigEndian.AppendUint16(body, id)
	body = append(body, payload...)
	s.write(t, packet(0x32, body))
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-s.acks:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("no PUBACK for %s", payload)
		}
	}
}

// fix reports a GPS fix (PROTOCOL.md ddmm.mmmm).
func (s *scooter) fix(t *testing.T, lat, lon float64) {
	t.Helper()
	s.publish(t, fmt.Sprintf(`{"a":19,"i":%q,"g":"%s,%s,0,0","t":%d}`, s.id, nmea(lat), nmea(lon), time.Now().Unix()))
}

// waitLimit waits for the next speed limit command (13), acks it (14) and returns its k.
func (s *scooter) waitLimit(t *testing.T) int {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case cmd, ok := <-s.commands:
			if !ok {
				t.Fatal("connection closed")
			}
			if a, _ := cmd["a"].(float64); a != 13 {
				continue
			}
			k, _ := cmd["k"].(float64)
			s.publish(t, fmt.Sprintf(`{"a":14,"i":%q,"t":%d,"s":0}`, s.id, time.Now().UnixNano()%1e9))
			return int(k)
		case <-timeout:
			t.Fatal("no speed limit command (13)")
		}
	}
}

func nmea(v float64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	deg := int(v)
	return fmt.Sprintf("%s%d%07.4f", sign, deg, (v-float64(deg))*60)
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func packet(header byte, body []byte) []byte {
	out := []byte{header}
	n := len(body)
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		out = append(out, c)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

func readPacket(r io.Reader) (byte, []byte, error) {
	var h [1]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		var c [1]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return 0, nil, err
		}
		n += int(c[0]&0x7F) * mult
		mult *= 128
		if c[0]&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("bad remaining length")
		}
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return h[0], p, err
}
