package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/fleetedge/fleetedge/protocol"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLSBroker(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	b := &testBroker{srv: srv}
	if err := srv.AddHook(&recorder{b: b}, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b.addr = "tls://" + l.Address()
	vs := creds(2)
	f := startFleet(t, b, Config{Vehicles: vs, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	b.wait(t, 0, "GPS over TLS", replyFrom(vs[0].ID, protocol.CodeGPSReport))
	before := f.Stats().Disconnects
	if err := f.Inject(vs[0].ID, FaultDisconnect); err != nil {
		t.Fatal(err)
	}
	waitState(t, f, vs[0].ID, "reconnected over TLS", func(s State) bool { return f.Stats().Disconnects > before && s.Connected })

	// A client that does not trust the certificate never connects.
	untrusting, err := New(Config{Broker: b.addr, Vehicles: creds(1), Graph: barcelona(t), ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	if err := untrusting.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitState(t, untrusting, "T00000", "a failed TLS attempt", func(State) bool { return untrusting.Stats().ConnectErrors > 0 })
	if untrusting.Stats().Connected != 0 {
		t.Fatal("connected without trusting the certificate")
	}
	bad, err := New(Config{Broker: "ws://x:1", Vehicles: creds(1), Graph: barcelona(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(t.Context()); !errors.Is(err, ErrConfig) {
		t.Fatalf("ws scheme: %v", err)
	}
}
