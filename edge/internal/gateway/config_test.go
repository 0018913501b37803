package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestDefaultIsValid(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.MQTT.TCPAddr != ":1883" || d.HTTP.Addr != ":8080" || d.DataDir != ".data/edge" || d.City != "demo" || d.LostAfter.D() != 20*time.Minute {
		t.Fatalf("defaults changed: %+v", d)
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.json")
	writeFile(t, file, `{"city":"fromfile","gateway_id":"gw-file","lost_after":"5m","mqtt":{"tcp_addr":":1999"},"outbox":{"max_bytes":1000}}`)
	env := map[string]string{
		ConfigEnv:                     file,
		"FLEETEDGE_GATEWAY_ID":        "gw-env",
		"FLEETEDGE_GATEWAY_HTTP_ADDR": ":9999",
	}
	inv, err := LoadConfig([]string{"-http-addr", "127.0.0.1:7000", "-lost-after", "90s"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := inv.Config
	checks := map[string][2]string{
		"city (file)":           {c.City, "fromfile"},
		"gateway (env > file)":  {c.GatewayID, "gw-env"},
		"http (flag > env)":     {c.HTTP.Addr, "127.0.0.1:7000"},
		"mqtt (file)":           {c.MQTT.TCPAddr, ":1999"},
		"lost (flag > file)":    {c.LostAfter.String(), "1m30s"},
		"data dir (default)":    {c.DataDir, ".data/edge"},
		"sweep interval (dflt)": {c.SweepInterval.String(), "30s"},
	}
	if c.Outbox.MaxBytes != 1000 {
		t.Errorf("outbox max bytes (file) = %d", c.Outbox.MaxBytes)
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	writeFile(t, typo, `{"citty":"x"}`)
	none := func(string) string { return "" }
	cases := map[string][]string{
		"unknown key in file": {"-config", typo},
		"missing file":        {"-config", filepath.Join(dir, "nope.json")},
		"bad duration":        {"-lost-after", "soon"},
		"bad city":            {"-city", "Paris"},
		"bad gateway id":      {"-gateway-id", "a.b"},
		"no listener":         {"-mqtt-addr", ""},
		"tls without cert":    {"-mqtt-tls-addr", ":8883"},
		"bad address":         {"-http-addr", "8080"},
		"bad number":          {"-outbox-max-bytes", "-1"},
		"bad log level":       {"-log-level", "loud"},
		"stray argument":      {"extra"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadConfig(args, none, io.Discard); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	var out strings.Builder
	if _, err := LoadConfig([]string{"-help"}, none, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("help: %v", err)
	}
	for _, s := range configTable.Settings {
		if !strings.Contains(out.String(), "-"+s.Flag) || !strings.Contains(SettingsTable(), s.Env) {
			t.Errorf("flag %s missing from help or table", s.Flag)
		}
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their paths
// and a pool trusting the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndWebSocketListeners: a scooter reports over MQTT/TLS and another
// over MQTT/WebSocket; both reach the live state.
func TestTLSAndWebSocketListeners(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MQTT.TCPAddr = ""
	cfg.MQTT.TLSAddr, cfg.MQTT.WSAddr = "127.0.0.1:0", "127.0.0.1:0"
	var pool *x509.CertPool
	cfg.MQTT.TLSCertFile, cfg.MQTT.TLSKeyFile, pool = selfSigned(t, dir)
	cfg.VehiclesFile = filepath.Join(dir, "v.json")
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "T1", "W1")
	r := start(t, cfg)
	addrs := r.g.Addrs()
	if addrs.MQTT["tcp"] != "" {
		t.Fatal("TCP listener enabled")
	}
	for id, url := range map[string]string{"T1": "tls://" + addrs.MQTT["tls"], "W1": "ws://" + addrs.MQTT["ws"]} {
		o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(id).SetPassword(secrets[id]).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetProtocolVersion(4).
			SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s connect: %v", url, tok.Error())
		}
		tok := c.Publish("bike", 1, false, `{"a":27,"i":"`+id+`","b":33,"c":1}`)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s publish: %v", url, tok.Error())
		}
		c.Disconnect(0)
		if v, _ := r.g.Fleet().Get("W1"); id == "W1" && v.BatteryPct != 33 {
			t.Fatalf("ws report not applied: %+v", v)
		}
		if v, _ := r.g.Fleet().Get("T1"); id == "T1" && v.BatteryPct != 33 {
			t.Fatalf("tls report not applied: %+v", v)
		}
	}
}

// TestExampleConfig: deploy/config/gateway.example.json is the defaults, and loads.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "..", "deploy", "config", "gateway.example.json")
	inv, err := LoadConfig([]string{"-config", path}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inv.Config, Default()) {
		t.Fatalf("example differs from Default():\n%+v\n%+v", inv.Config, Default())
	}
}

func TestBadRulesConfig(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"ramp limit 40":     func(c *Config) { c.Rules.Ramp = []RampStep{{LimitKmh: 40}} },
		"ramp out of order": func(c *Config) { c.Rules.Ramp = []RampStep{{After: Duration(time.Second)}, {After: 0}} },
		"no ramp":           func(c *Config) { c.Rules.Ramp = nil },
		"default limit 0":   func(c *Config) { c.Rules.DefaultLimitKmh = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			mod(&cfg)
			g, err := New(cfg, nil)
			if err == nil {
				g.Close()
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}
