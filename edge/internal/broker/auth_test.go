package broker

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"github.com/fleetedge/fleetedge/shared/devicecred"
)

type credMap map[string]devicecred.Digest

func (m credMap) Credential(v string) (devicecred.Digest, bool) { d, ok := m[v]; return d, ok }

// fleet makes vehicles with fresh secrets and the credential table the hook reads.
func fleet(t *testing.T, ids ...string) (credMap, map[string]string) {
	t.Helper()
	creds, secrets := credMap{}, map[string]string{}
	for _, id := range ids {
		s, h, err := devicecred.Generate()
		if err != nil {
			t.Fatal(err)
		}
		d, err := devicecred.Parse(h)
		if err != nil {
			t.Fatal(err)
		}
		creds[id], secrets[id] = d, s
	}
	return creds, secrets
}

func startBroker(t *testing.T, creds Credentials) *Server {
	t.Helper()
	s, err := NewServer(Config{TCPAddr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)), NewAuthHook(creds))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeBroker(s) })
	return s
}

// closeBroker closes s once the clients the tests disconnected in their
// cleanups (which run first) are gone: mochi v2.7.9's Close can deadlock with
// a client being removed at that moment (Clients.GetByListener takes its read
// lock twice; a Delete waiting in between blocks both).
func closeBroker(s *Server) {
	connected := func() bool {
		for _, cl := range s.MQTT.Clients.GetAll() {
			if !cl.Net.Inline {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(2 * time.Second); connected() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	_ = s.Close()
}

func connect(t *testing.T, s *Server, id, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + s.Addrs["tcp"]).SetClientID(id).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("connect timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func TestAuthenticate(t *testing.T) {
	creds, secrets := fleet(t, "12AB", "34CD")
	s := startBroker(t, creds)
	tests := []struct {
		name, id, user, pass string
		ok                   bool
	}{
		{"own secret", "12AB", "12AB", secrets["12AB"], true},
		{"wrong secret", "12AB", "12AB", "not-the-secret", false},
		{"another vehicle's secret", "12AB", "12AB", secrets["34CD"], false},
		{"username differs from client id", "12AB", "34CD", secrets["34CD"], false},
		{"unknown vehicle", "99ZZ", "99ZZ", secrets["12AB"], false},
		{"no credentials", "12AB", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect(t, s, tt.id, tt.user, tt.pass)
			if (err == nil) != tt.ok {
				t.Fatalf("connect err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if s.Auth.Stats.Accepted.Load() != 1 || s.Auth.Stats.Rejected.Load() != 3 || s.Auth.Stats.AnonRejected.Load() != 2 {
		t.Fatalf("stats: accepted %d rejected %d anon %d", s.Auth.Stats.Accepted.Load(),
			s.Auth.Stats.Rejected.Load(), s.Auth.Stats.AnonRejected.Load())
	}
}

type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (b *inbox) add(_ paho.Client, m paho.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, m.Topic()+" "+string(m.Payload()))
}

func (b *inbox) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestACL(t *testing.T) {
	creds, secrets := fleet(t, "A1", "B2")
	s := startBroker(t, creds)
	a, err := connect(t, s, "A1", "A1", secrets["A1"])
	if err != nil {
		t.Fatal(err)
	}
	b, err := connect(t, s, "B2", "B2", secrets["B2"])
	if err != nil {
		t.Fatal(err)
	}
	var bIn, aIn inbox
	if tok := b.Subscribe("B2", 1, bIn.add); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("B cannot subscribe to its own topic: %v", tok.Error())
	}

	// A subscribing to B's topic, to a wildcard or to the shared report topic is refused
	// (MQTT 3.1.1: SUBACK 0x80). Nothing published on those reaches A afterwards.
	for _, filter := range []string{"B2", "#", "+", "bike", "$SYS/#"} {
		tok := a.Subscribe(filter, 1, aIn.add)
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("subscribe %q: timeout", filter)
		}
		st := tok.(*paho.SubscribeToken)
		if code := st.Result()[filter]; code != 0x80 {
			t.Errorf("A subscribe %q: SUBACK %#x, want 0x80 (refused)", filter, code)
		}
	}

	// A publishes to B's topic at QoS 0: dropped; the server's own command reaches B.
	a.Publish("B2", 0, false, `{"a":3}`).Wait()
	if err := s.Publish("B2", []byte(`{"a":13,"k":2010}`), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server's command at B", func() bool { return len(bIn.list()) > 0 })
	if got := bIn.list(); len(got) != 1 || got[0] != `B2 {"a":13,"k":2010}` {
		t.Fatalf("B received %q, want only the server's command", got)
	}
	if got := aIn.list(); len(got) != 0 {
		t.Fatalf("A received %q through refused subscriptions", got)
	}
	if s.Auth.Stats.ACLDenied.Load() < 6 {
		t.Fatalf("ACLDenied = %d, want >= 6", s.Auth.Stats.ACLDenied.Load())
	}

	// At QoS 1 an MQTT 3.1.1 client publishing outside its topics is disconnected.
	a.Publish("B2", 1, false, `{"a":3}`).WaitTimeout(2 * time.Second)
	waitFor(t, "A disconnected", func() bool { return !a.IsConnectionOpen() })
}

func TestSecondAuthorityRefused(t *testing.T) {
	creds, _ := fleet(t, "A1")
	_, err := NewServer(Config{TCPAddr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewAuthHook(creds), new(auth.AllowHook))
	if !errors.Is(err, ErrSecondAuthority) {
		t.Fatalf("NewServer with an allow-all hook: err = %v, want ErrSecondAuthority", err)
	}
	var _ mqtt.Hook = new(AuthHook)
}

func TestNoListener(t *testing.T) {
	if _, err := NewServer(Config{}, slog.Default(), NewAuthHook(credMap{})); err == nil {
		t.Fatal("NewServer without listeners succeeded")
	}
	if _, err := NewServer(Config{TLSAddr: ":0"}, slog.Default(), NewAuthHook(credMap{})); err == nil {
		t.Fatal("NewServer with TLS address but no certificate succeeded")
	}
}
