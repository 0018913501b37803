package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/fleetedge/fleetedge/cloud/internal/gatewayauth"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// identity is a gateway or service key pair made for a test.
type identity struct {
	seed []byte
	pub  string
}

func newIdentity(t *testing.T) identity {
	t.Helper()
	seed, pub, err := gatewayauth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return identity{seed: seed, pub: pub}
}

func writeRoster(t testing.TB, path string, ro gatewayauth.Roster) {
	t.Helper()
	data, err := json.Marshal(ro)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// permErrors collects a connection's asynchronous errors (permission violations).
type permErrors struct {
	mu   sync.Mutex
	errs []string
}

func (p *permErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err.Error())
}

// waitFor polls until a permission violation naming subject was reported.
func (p *permErrors) waitFor(t *testing.T, op, subject string) {
	t.Helper()
	p.waitForText(t, `Permissions Violation for `+op+` to "`+subject+`"`)
}

func (p *permErrors) waitForText(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, e := range p.errs {
			if strings.Contains(e, want) {
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Fatalf("no %q reported; errors: %q", want, p.errs)
}

// dial connects as id the way a gateway must: nkey signature and its own inbox prefix.
func dial(t *testing.T, url string, id identity, gw link.GatewayID, pe *permErrors, extra ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	kp, err := nkeys.FromSeed(id.seed)
	if err != nil {
		t.Fatal(err)
	}
	opts := []nats.Option{
		nats.Nkey(id.pub, kp.Sign),
		nats.MaxReconnects(0),
		nats.Timeout(5 * time.Second),
	}
	if gw != "" {
		opts = append(opts, nats.CustomInboxPrefix(gatewayauth.InboxPrefix(gw)))
	}
	if pe != nil {
		opts = append(opts, nats.ErrorHandler(pe.handler))
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

type authFixture struct {
	bus        *Bus
	rosterPath string
	riga, oslo identity // gateways riga-1 (city riga) and oslo-1 (city oslo)
	service    identity
	rigaKV     jetstream.KeyValue // the cloud's handle on riga's bucket
	osloKV     jetstream.KeyValue
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	dir := t.TempDir()
	f := &authFixture{
		rosterPath: filepath.Join(dir, "roster.json"),
		riga:       newIdentity(t), oslo: newIdentity(t), service: newIdentity(t),
	}
	writeRoster(t, f.rosterPath, gatewayauth.Roster{
		Gateways: []gatewayauth.Gateway{
			{ID: "riga-1", City: "riga", NKey: f.riga.pub},
			{ID: "oslo-1", City: "oslo", NKey: f.oslo.pub},
		},
		Services: []gatewayauth.Service{{Name: "ops", NKey: f.service.pub}},
	})
	cfg := embeddedConfig(t, filepath.Join(dir, "nats"))
	cfg.Embedded.Host = "0.0.0.0" // allowed because a roster is set
	cfg.Embedded.Auth.RosterFile = f.rosterPath
	f.bus = openBus(t, cfg)
	t.Cleanup(func() { closeBus(t, f.bus) })

	// The cloud (full rights, in-process) creates both buckets and their documents, the way
	// the downlink does.
	js := f.bus.JetStream()
	var err error
	for _, c := range []struct {
		city link.CityID
		kv   *jetstream.KeyValue
	}{{"riga", &f.rigaKV}, {"oslo", &f.osloKV}} {
		*c.kv, err = js.CreateOrUpdateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: link.ConfigBucket(c.city), History: 1})
		if err != nil {
			t.Fatalf("create bucket %s: %v", c.city, err)
		}
		if _, err := (*c.kv).Put(t.Context(), link.ConfigVehicles, []byte(`{"city":"`+string(c.city)+`","secret":"hash-`+string(c.city)+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// clientURL is the TCP listener as a gateway on another machine reaches it.
func (f *authFixture) clientURL() string {
	return strings.Replace(f.bus.ClientURL(), "0.0.0.0", "127.0.0.1", 1)
}

func TestGatewayAuthentication(t *testing.T) {
	f := newAuthFixture(t)
	url := f.clientURL()

	tests := []struct {
		name string
		opts []nats.Option
	}{
		{"no credentials", nil},
		{"user and password", []nats.Option{nats.UserInfo("riga-1", "x")}},
		{"token", []nats.Option{nats.Token("riga-1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(url, append(tt.opts, nats.MaxReconnects(0))...)
			if err == nil {
				nc.Close()
				t.Fatal("connected without a roster key")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("want authorization violation, got %v", err)
			}
		})
	}
	t.Run("unknown nkey", func(t *testing.T) {
		if _, err := dial(t, url, newIdentity(t), "riga-1", nil); !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("want authorization violation, got %v", err)
		}
	})
	t.Run("public key without its seed", func(t *testing.T) {
		// Presenting riga's public key but signing with another seed.
		other := newIdentity(t)
		kp, err := nkeys.FromSeed(other.seed)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(url, nats.Nkey(f.riga.pub, kp.Sign), nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			t.Fatal("connected with a forged signature")
		}
	})
	t.Run("service has full rights", func(t *testing.T) {
		nc, err := dial(t, url, f.service, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(t.Context(), link.ConfigBucket("oslo"))
		if err != nil {
			t.Fatalf("service reads any bucket: %v", err)
		}
		if _, err := kv.Get(t.Context(), link.ConfigVehicles); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cloud in-process connection keeps full rights", func(t *testing.T) {
		if err := f.bus.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.bus.JetStream().CreateOrUpdateConsumer(t.Context(), link.StreamUp, jetstream.ConsumerConfig{Durable: "cloud-test"}); err != nil {
			t.Fatalf("cloud creates a consumer on %s: %v", link.StreamUp, err)
		}
	})
}

func TestGatewayPermissions(t *testing.T) {
	f := newAuthFixture(t)
	url := f.clientURL()
	pe := &permErrors{}
	nc, err := dial(t, url, f.riga, "riga-1", pe)
	if err != nil {
		t.Fatalf("riga gateway connects: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cloudStream, err := f.bus.JetStream().Stream(t.Context(), link.StreamUp)
	if err != nil {
		t.Fatal(err)
	}
	short := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("publishes its city's telemetry and events with acks", func(t *testing.T) {
		for i, subj := range []string{link.TelemetrySubject("riga"), link.EventsSubject("riga")} {
			ack, err := js.Publish(t.Context(), subj, []byte("batch"), jetstream.WithMsgID(link.MsgID("riga-1", uint64(i+1), uint64(i+1))))
			if err != nil {
				t.Fatalf("publish %s: %v", subj, err)
			}
			if ack.Stream != link.StreamUp || ack.Duplicate {
				t.Fatalf("ack %+v", ack)
			}
		}
		// Async publishing (what the uplink does) gets its acks on the gateway's inbox too.
		fut, err := js.PublishAsync(link.TelemetrySubject("riga"), []byte("async"), jetstream.WithMsgID(link.MsgID("riga-1", 3, 3)))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case ack := <-fut.Ok():
			if ack.Stream != link.StreamUp {
				t.Fatalf("async ack %+v", ack)
			}
		case err := <-fut.Err():
			t.Fatalf("async publish: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("no async ack")
		}
	})

	t.Run("refused another city's telemetry", func(t *testing.T) {
		for _, subj := range []string{link.TelemetrySubject("oslo"), link.EventsSubject("oslo"), link.DeadLetterSubject("riga"), "fleet.up.riga"} {
			if _, err := js.Publish(short(t), subj, []byte("forged"), jetstream.WithMsgID("riga-1.forged")); err == nil {
				t.Fatalf("publish to %s accepted", subj)
			}
			pe.waitFor(t, "Publish", subj)
		}
		if _, err := cloudStream.GetLastMsgForSubject(t.Context(), "fleet.up.oslo.>"); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("oslo subjects in %s after a refused publish: %v", link.StreamUp, err)
		}
	})

	t.Run("reads and watches its own bucket", func(t *testing.T) {
		kv, err := js.KeyValue(t.Context(), link.ConfigBucket("riga"))
		if err != nil {
			t.Fatalf("bind own bucket: %v", err)
		}
		e, err := kv.Get(t.Context(), link.ConfigVehicles)
		if err != nil {
			t.Fatalf("get own vehicles: %v", err)
		}
		if !strings.Contains(string(e.Value()), "hash-riga") {
			t.Fatalf("own vehicles %q", e.Value())
		}
		w, err := kv.WatchAll(t.Context())
		if err != nil {
			t.Fatalf("watch own bucket: %v", err)
		}
		defer func() {
			if err := w.Stop(); err != nil {
				t.Errorf("stop watch: %v", err)
			}
		}()
		next := func() jetstream.KeyValueEntry {
			t.Helper()
			for {
				select {
				case e := <-w.Updates():
					if e != nil { // nil marks the end of the initial values
						return e
					}
				case <-time.After(5 * time.Second):
					t.Fatal("watch delivered nothing")
				}
			}
		}
		if e := next(); e.Key() != link.ConfigVehicles {
			t.Fatalf("initial watch entry %q", e.Key())
		}
		if _, err := f.rigaKV.Put(t.Context(), link.ConfigZones, []byte("zones-v2")); err != nil {
			t.Fatal(err)
		}
		if e := next(); e.Key() != link.ConfigZones || string(e.Value()) != "zones-v2" {
			t.Fatalf("watch update %q=%q", e.Key(), e.Value())
		}
	})

	t.Run("cannot write its own bucket", func(t *testing.T) {
		kv, err := js.KeyValue(t.Context(), link.ConfigBucket("riga"))
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []struct {
			name string
			do   func(ctx context.Context) error
		}{
			{"put", func(ctx context.Context) error {
				_, err := kv.Put(ctx, link.ConfigVehicles, []byte("mine"))
				return err
			}},
			{"delete", func(ctx context.Context) error { return kv.Delete(ctx, link.ConfigVehicles) }},
			{"purge", func(ctx context.Context) error { return kv.Purge(ctx, link.ConfigVehicles) }},
		} {
			if err := op.do(short(t)); err == nil {
				t.Fatalf("%s in own bucket accepted", op.name)
			}
		}
		pe.waitFor(t, "Publish", "$KV."+link.ConfigBucket("riga")+"."+link.ConfigVehicles)
		if err := js.DeleteKeyValue(short(t), link.ConfigBucket("riga")); err == nil {
			t.Fatal("gateway deleted its bucket")
		}
		e, err := f.rigaKV.Get(t.Context(), link.ConfigVehicles)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(e.Value()), "hash-riga") {
			t.Fatalf("riga vehicles changed by the gateway: %q", e.Value())
		}
	})

	t.Run("cannot read another city's bucket", func(t *testing.T) {
		if _, err := js.KeyValue(short(t), link.ConfigBucket("oslo")); err == nil {
			t.Fatal("bound oslo's bucket")
		}
		pe.waitFor(t, "Publish", "$JS.API.STREAM.INFO.KV_"+link.ConfigBucket("oslo"))
		direct := "$JS.API.DIRECT.GET.KV_" + link.ConfigBucket("oslo") + ".$KV." + link.ConfigBucket("oslo") + "." + link.ConfigVehicles
		if m, err := nc.RequestWithContext(short(t), direct, nil); err == nil {
			t.Fatalf("direct get of oslo answered: %q", m.Data)
		}
		pe.waitFor(t, "Publish", direct)
		if _, err := js.OrderedConsumer(short(t), "KV_"+link.ConfigBucket("oslo"), jetstream.OrderedConsumerConfig{}); err == nil {
			t.Fatal("consumer on oslo's bucket created")
		}

		// Eavesdropping: subscriptions that would see oslo's documents as they are written
		// or delivered are refused, and nothing arrives.
		var subs []*nats.Subscription
		for _, subj := range []string{">", "$KV.>", "$KV." + link.ConfigBucket("oslo") + ".>", "_INBOX.>", gatewayauth.InboxPrefix("oslo-1") + ".>"} {
			s, err := nc.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
			pe.waitFor(t, "Subscription", subj)
		}
		osloNC, err := dial(t, url, f.oslo, "oslo-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		osloJS, err := jetstream.New(osloNC)
		if err != nil {
			t.Fatal(err)
		}
		osloKV, err := osloJS.KeyValue(t.Context(), link.ConfigBucket("oslo"))
		if err != nil {
			t.Fatalf("oslo gateway binds its own bucket: %v", err)
		}
		if _, err := osloKV.Get(t.Context(), link.ConfigVehicles); err != nil {
			t.Fatalf("oslo gateway reads its own bucket: %v", err)
		}
		if _, err := f.osloKV.Put(t.Context(), link.ConfigVehicles, []byte("hash-oslo-v2")); err != nil {
			t.Fatal(err)
		}
		// The put was routed before its ack; a round trip makes sure anything sent to riga
		// before this point has been read.
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if m, err := s.NextMsg(10 * time.Millisecond); err == nil {
				t.Fatalf("riga's subscription %s received %s %q", s.Subject, m.Subject, m.Data)
			}
		}
	})

	t.Run("cannot read or alter the up stream", func(t *testing.T) {
		if _, err := js.Stream(short(t), link.StreamUp); err == nil {
			t.Fatal("stream info of FLEET_UP answered")
		}
		if _, err := js.CreateOrUpdateConsumer(short(t), link.StreamUp, jetstream.ConsumerConfig{Durable: "steal"}); err == nil {
			t.Fatal("gateway created a consumer on FLEET_UP")
		}
		purge := "$JS.API.STREAM.PURGE." + link.StreamUp
		if _, err := nc.RequestWithContext(short(t), purge, nil); err == nil {
			t.Fatal("purge answered")
		}
		pe.waitFor(t, "Publish", purge)
		info, err := cloudStream.Info(t.Context())
		if err != nil || info.State.Msgs != 3 {
			t.Fatalf("FLEET_UP holds %v messages (%v), want riga's 3", info.State.Msgs, err)
		}
	})

	t.Run("serves its command subject", func(t *testing.T) {
		sub, err := nc.QueueSubscribe(link.CommandSubject("riga"), "gateway", func(m *nats.Msg) {
			if err := m.Respond([]byte("acked:" + string(m.Data))); err != nil {
				t.Errorf("respond: %v", err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe() //nolint:errcheck // the connection closes at cleanup
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		reply, err := f.bus.Conn().Request(link.CommandSubject("riga"), []byte("unlock"), 5*time.Second)
		if err != nil {
			t.Fatalf("cloud request to riga: %v", err)
		}
		if string(reply.Data) != "acked:unlock" {
			t.Fatalf("reply %q", reply.Data)
		}
	})

	t.Run("cannot serve another city's commands", func(t *testing.T) {
		subj := link.CommandSubject("oslo")
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { t.Errorf("riga received oslo's command %q", m.Data) }); err != nil {
			t.Fatal(err)
		}
		pe.waitFor(t, "Subscription", subj)
		if _, err := f.bus.Conn().Request(subj, []byte("unlock"), time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request to oslo without its gateway: want no responders, got %v", err)
		}
	})

	t.Run("cannot publish into inboxes unasked", func(t *testing.T) {
		inbox := f.bus.Conn().NewInbox()
		sub, err := f.bus.Conn().SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.bus.Conn().Flush(); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(inbox, []byte("forged reply")); err != nil {
			t.Fatal(err)
		}
		pe.waitFor(t, "Publish", inbox)
		if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
			t.Fatalf("forged reply delivered: %q", m.Data)
		}
	})
}

func TestGatewayNeedsItsInboxPrefix(t *testing.T) {
	// A gateway that forgets nats.CustomInboxPrefix cannot receive publish acks: its
	// default _INBOX.> subscription is refused. The failure is loud, not silent.
	f := newAuthFixture(t)
	pe := &permErrors{}
	nc, err := dial(t, f.clientURL(), f.riga, "", pe)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := js.Publish(ctx, link.TelemetrySubject("riga"), []byte("x")); err == nil {
		t.Fatal("publish acknowledged without the gateway inbox prefix")
	}
	pe.waitForText(t, `Permissions Violation for Subscription to "_INBOX.`)
}

func TestRosterReload(t *testing.T) {
	f := newAuthFixture(t)
	url := f.clientURL()
	rigaNC, err := dial(t, url, f.riga, "riga-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	newGW := newIdentity(t)
	if _, err := dial(t, url, newGW, "tartu-1", nil); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("gateway not yet in the roster: %v", err)
	}

	// An invalid roster is refused and changes nothing.
	if err := os.WriteFile(f.rosterPath, []byte(`{"gateways":[{"id":"Bad","city":"x","nkey":"nope"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.bus.ReloadRoster(); !errors.Is(err, gatewayauth.ErrRoster) {
		t.Fatalf("reload of a bad roster: %v", err)
	}
	if got := len(f.bus.Roster().Gateways); got != 2 {
		t.Fatalf("roster after failed reload has %d gateways", got)
	}

	// riga removed, tartu added.
	writeRoster(t, f.rosterPath, gatewayauth.Roster{Gateways: []gatewayauth.Gateway{
		{ID: "oslo-1", City: "oslo", NKey: f.oslo.pub},
		{ID: "tartu-1", City: "tartu", NKey: newGW.pub},
	}})
	if err := f.bus.ReloadRoster(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	tartu, err := dial(t, url, newGW, "tartu-1", nil)
	if err != nil {
		t.Fatalf("added gateway connects after reload: %v", err)
	}
	if err := tartu.Publish(link.TelemetrySubject("tartu"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !rigaNC.IsClosed() {
		if time.Now().After(deadline) {
			t.Fatalf("removed gateway still connected: %v", rigaNC.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := dial(t, url, f.riga, "riga-1", nil); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("removed gateway reconnects: %v", err)
	}
	if err := f.bus.Check(t.Context()); err != nil {
		t.Fatalf("cloud connection after reload: %v", err)
	}
}

func TestExternalWithNkey(t *testing.T) {
	f := newAuthFixture(t)
	seedFile := filepath.Join(t.TempDir(), "cloud.nk")
	if err := os.WriteFile(seedFile, f.service.seed, 0o600); err != nil {
		t.Fatal(err)
	}
	ext := Config{URL: f.clientURL(), ConnectTimeout: 5 * time.Second, Stream: DefaultStreamConfig(), NkeySeedFile: seedFile}
	b := openBus(t, ext)
	defer closeBus(t, b)
	if err := b.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	ext.NkeySeedFile = ""
	if _, err := Open(t.Context(), ext, testLogger()); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("external connection without its nkey: %v", err)
	}
	ext.NkeySeedFile = filepath.Join(t.TempDir(), "missing.nk")
	if _, err := Open(t.Context(), ext, testLogger()); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing seed file: %v", err)
	}
}
