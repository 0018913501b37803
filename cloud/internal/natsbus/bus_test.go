package natsbus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func embeddedConfig(t *testing.T, storeDir string) Config {
	t.Helper()
	return Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       EmbeddedConfig{Host: "127.0.0.1", Port: 0, StoreDir: storeDir},
		Stream:         DefaultStreamConfig(),
	}
}

func openBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	b, err := Open(t.Context(), cfg, testLogger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b
}

func closeBus(t *testing.T, b *Bus) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func publish(t *testing.T, js jetstream.JetStream, subject, id, body string) *jetstream.PubAck {
	t.Helper()
	ack, err := js.Publish(t.Context(), subject, []byte(body), jetstream.WithMsgID(id))
	if err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	return ack
}

func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), link.StreamUp)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestEmbeddedDedupAndDurability(t *testing.T) {
	dir := t.TempDir()
	cfg := embeddedConfig(t, dir)
	b := openBus(t, cfg)
	if !b.Embedded() {
		t.Fatal("want embedded")
	}
	if jc := b.srv.JetStreamConfig(); jc == nil || !jc.SyncAlways {
		t.Fatalf("embedded JetStream must fsync every write, got %+v", jc)
	}
	if err := b.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	city := link.CityID("riga")
	subj := link.TelemetrySubject(city)
	id := link.MsgID("gw1", 1, 10)

	first := publish(t, b.JetStream(), subj, id, "batch-1")
	again := publish(t, b.JetStream(), subj, id, "batch-1")
	if first.Duplicate || !again.Duplicate || again.Sequence != first.Sequence {
		t.Fatalf("dedup: first=%+v again=%+v", first, again)
	}
	publish(t, b.JetStream(), link.EventsSubject(city), link.MsgID("gw1", 11, 11), "event")
	if n := streamMsgs(t, b.JetStream()); n != 2 {
		t.Fatalf("stream holds %d messages, want 2", n)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(b.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	if got["fleetedge_nats_connected"] != 1 || got["fleetedge_nats_stream_messages"] != 2 ||
		got["fleetedge_nats_stream_bytes"] <= 0 || got["fleetedge_nats_stream_max_bytes"] != float64(cfg.Stream.MaxBytes) {
		t.Fatalf("bus metrics = %v", got)
	}
	// A subject outside fleet.up.> is not captured by the stream.
	if _, err := b.JetStream().Publish(t.Context(), "fleet.cmd.riga", []byte("x")); !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("publish outside the stream: want no-responders, got %v", err)
	}
	closeBus(t, b)

	// Restart on the same store: messages and the dedup state survive.
	b2 := openBus(t, cfg)
	defer closeBus(t, b2)
	if n := streamMsgs(t, b2.JetStream()); n != 2 {
		t.Fatalf("after restart stream holds %d messages, want 2", n)
	}
	if ack := publish(t, b2.JetStream(), subj, id, "batch-1"); !ack.Duplicate {
		t.Fatalf("resend after restart inside the window must be a duplicate: %+v", ack)
	}
	msg, err := b2.JetStream().Stream(t.Context(), link.StreamUp)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := msg.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw.Data) != "batch-1" || raw.Header.Get(jetstream.MsgIDHeader) != id {
		t.Fatalf("stored message = %q id %q", raw.Data, raw.Header.Get(jetstream.MsgIDHeader))
	}
}

func TestStreamFullRefusesNew(t *testing.T) {
	cfg := embeddedConfig(t, t.TempDir())
	cfg.Stream.MaxBytes = 2048
	b := openBus(t, cfg)
	defer closeBus(t, b)
	body := strings.Repeat("x", 600)
	var refused error
	for i := range 20 {
		_, err := b.JetStream().Publish(t.Context(), link.TelemetrySubject("riga"), []byte(body), jetstream.WithMsgID(link.MsgID("gw", uint64(i), uint64(i))))
		if err != nil {
			refused = err
			break
		}
	}
	if refused == nil {
		t.Fatal("a full stream must refuse new messages (discard new)")
	}
	s, err := b.JetStream().Stream(t.Context(), link.StreamUp)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.FirstSeq != 1 {
		t.Fatalf("old messages were discarded: first seq %d", info.State.FirstSeq)
	}
}

func TestExternalURL(t *testing.T) {
	a := openBus(t, embeddedConfig(t, t.TempDir()))
	defer closeBus(t, a)
	if !strings.HasPrefix(a.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(a.ClientURL(), ":4222") {
		t.Fatalf("embedded client URL %q: want a random port on 127.0.0.1", a.ClientURL())
	}

	ext := Config{URL: a.ClientURL(), ConnectTimeout: 5 * time.Second, Stream: DefaultStreamConfig()}
	ext.Stream.MaxAge = 48 * time.Hour // the external side updates the stream's limits
	b := openBus(t, ext)
	defer closeBus(t, b)
	if b.Embedded() {
		t.Fatal("external mode must not embed a server")
	}
	if err := b.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	publish(t, b.JetStream(), link.TelemetrySubject("oslo"), link.MsgID("gw9", 1, 1), "x")
	if n := streamMsgs(t, a.JetStream()); n != 1 {
		t.Fatalf("embedded server sees %d messages published through the external client, want 1", n)
	}
	s, err := a.JetStream().Stream(t.Context(), link.StreamUp)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != 48*time.Hour {
		t.Fatalf("stream max age after external update = %v", got)
	}
}

func TestExternalUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: "nats://" + addr, ConnectTimeout: time.Second, Stream: DefaultStreamConfig()}
	if _, err := Open(t.Context(), cfg, testLogger()); err == nil {
		t.Fatal("want connect error")
	}
}

func TestEmbeddedPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := embeddedConfig(t, t.TempDir())
	cfg.Embedded.Port = ln.Addr().(*net.TCPAddr).Port
	start := time.Now()
	_, err = Open(t.Context(), cfg, testLogger())
	if err == nil {
		t.Fatal("want error for a port in use")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("port in use reported after %v: should fail fast", d)
	}
	if !errors.Is(err, ErrEmbeddedStart) || !strings.Contains(err.Error(), strconv.Itoa(cfg.Embedded.Port)) {
		t.Fatalf("error should name the port: %v", err)
	}
}

func TestEmbeddedTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	cfg := embeddedConfig(t, filepath.Join(dir, "nats"))
	cfg.Embedded.TLS = ServerTLS{CertFile: certFile, KeyFile: keyFile}
	a := openBus(t, cfg)
	defer closeBus(t, a)
	// The cloud's own in-process connection works without TLS.
	if err := a.Check(t.Context()); err != nil {
		t.Fatalf("in-process Check with TLS listener: %v", err)
	}
	u, err := url.Parse(a.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "tls" {
		t.Fatalf("client URL of a TLS listener = %q, want tls://", a.ClientURL())
	}
	port := u.Port()

	plain := Config{URL: "nats://127.0.0.1:" + port, ConnectTimeout: 2 * time.Second, Stream: DefaultStreamConfig()}
	if _, err := Open(t.Context(), plain, testLogger()); err == nil {
		t.Fatal("a client without the CA must not connect to the TLS listener")
	}
	tlsCfg := Config{URL: "tls://localhost:" + port, ClientTLS: ClientTLS{CAFile: caFile}, ConnectTimeout: 5 * time.Second, Stream: DefaultStreamConfig()}
	b := openBus(t, tlsCfg)
	defer closeBus(t, b)
	if !b.Conn().TLSRequired() {
		t.Fatal("connection should be TLS")
	}
	if err := b.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	ok := embeddedConfig(t, "/tmp/x")
	tests := []struct {
		name string
		mod  func(c *Config)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"random port -1", func(c *Config) { c.Embedded.Port = -1 }, ""},
		{"port too big", func(c *Config) { c.Embedded.Port = 70000 }, "port 70000"},
		{"no store dir", func(c *Config) { c.Embedded.StoreDir = "" }, "store dir"},
		{"negative fsync", func(c *Config) { c.Embedded.FsyncInterval = -time.Second }, "fsync interval"},
		{"cert without key", func(c *Config) { c.Embedded.TLS.CertFile = "c.pem" }, "cert file and key file"},
		{"client CA without cert", func(c *Config) { c.Embedded.TLS.ClientCAFile = "ca.pem" }, "client CA"},
		{"embedded replicas", func(c *Config) { c.Stream.Replicas = 3 }, "single node"},
		{"zero dup window", func(c *Config) { c.Stream.DuplicateWindow = 0 }, "duplicate window"},
		{"dup window over max age", func(c *Config) { c.Stream.MaxAge = time.Minute }, "exceeds max age"},
		{"zero max bytes", func(c *Config) { c.Stream.MaxBytes = 0 }, "max bytes"},
		{"unlimited bytes", func(c *Config) { c.Stream.MaxBytes = -1 }, ""},
		{"zero msg size", func(c *Config) { c.Stream.MaxMsgSize = 0 }, "max msg size"},
		{"zero timeout", func(c *Config) { c.ConnectTimeout = 0 }, "connect timeout"},
		{"external ok", func(c *Config) { c.URL = "nats://a:4222,nats://b:4222"; c.Stream.Replicas = 3 }, ""},
		{"external bad scheme", func(c *Config) { c.URL = "http://u:secret@a:4222" }, "want nats://"},
		{"open listener on all interfaces", func(c *Config) { c.Embedded.Host = "" }, "without authentication"},
		{"open listener on a public address", func(c *Config) { c.Embedded.Host = "10.0.0.5" }, "without authentication"},
		{"open listener on ::1", func(c *Config) { c.Embedded.Host = "::1" }, ""},
		{"roster on all interfaces", func(c *Config) { c.Embedded.Host = "0.0.0.0"; c.Embedded.Auth.RosterFile = "roster.json" }, ""},
		{"negative reply ttl", func(c *Config) { c.Embedded.Auth.ReplyTTL = -time.Second }, "reply ttl"},
		{"seed file for embedded", func(c *Config) { c.NkeySeedFile = "cloud.nk" }, "nkey seed file"},
		{"external client cert without key", func(c *Config) { c.URL = "tls://a:4222"; c.ClientTLS.CertFile = "c" }, "client tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrConfig containing %q, got %v", tt.want, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks a password: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://a:4222", "nats://a:4222"},
		{"nats://user:pw@a:4222", "nats://user:xxxxx@a:4222"},
		{"nats://tok@a:4222,tls://u:p@b:4222", "nats://xxxxx@a:4222,tls://u:xxxxx@b:4222"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// writeTestPKI writes a CA and a server certificate for localhost/127.0.0.1 signed by it.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fleetedge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}

func TestLargeMessages(t *testing.T) {
	// A stream limit above nats' default max_payload (1 MiB) raises the server's limit too.
	cfg := embeddedConfig(t, t.TempDir())
	cfg.Stream.MaxMsgSize = 2 << 20
	b := openBus(t, cfg)
	defer closeBus(t, b)
	big := make([]byte, 3<<19) // 1.5 MiB
	if _, err := b.JetStream().Publish(t.Context(), link.TelemetrySubject("riga"), big, jetstream.WithMsgID("gw.1")); err != nil {
		t.Fatalf("1.5 MiB publish with a 2 MiB limit: %v", err)
	}
	tooBig := make([]byte, 3<<20)
	if _, err := b.JetStream().Publish(t.Context(), link.TelemetrySubject("riga"), tooBig, jetstream.WithMsgID("gw.2")); err == nil {
		t.Fatal("3 MiB publish over a 2 MiB limit must fail")
	}
}
