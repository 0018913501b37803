package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ErrClosed is returned by operations on a fleet after Close.
var ErrClosed = errors.New("sim: fleet closed")

// ErrNotConnected is returned when a scooter must publish but is offline.
var ErrNotConnected = errors.New("sim: scooter not connected")

// Stats are fleet-wide counters since New.
type Stats struct {
	Scooters       int
	Connected      int
	Powered        int
	Published      uint64 // publishes handed to MQTT
	PublishErrors  uint64 // publishes MQTT refused at once (not connected, timeout)
	Commands       uint64 // payloads received on vehicle topics
	BadCommands    uint64 // of which undecodable
	DroppedReplies uint64 // by the missing-ack fault
	Connects       uint64
	ConnectErrors  uint64
	Disconnects    uint64 // connections lost (faults, reboots, broker)
	EncodeErrors   uint64
}

type counters struct {
	published, publishErrors, commands, badCommands, droppedReplies atomic.Uint64
	connects, connectErrors, disconnects, encodeErrors              atomic.Uint64
}

// Fleet is a set of simulated scooters. Create it with New, start it with
// Start, stop it with Close. Its methods are safe for concurrent use.
type Fleet struct {
	cfg      Config
	log      *slog.Logger
	scooters []*scooter
	byID     map[string]*scooter
	stats    counters

	mu       sync.Mutex // guards ctx, cancel, started, closed, nextConn
	ctx      context.Context
	cancel   context.CancelFunc
	started  bool
	closed   bool
	nextConn time.Time // connection pacing (wall clock)
	wg       sync.WaitGroup
	connSem  chan struct{}

	latMu     sync.Mutex
	latencies []time.Duration
}

// New builds a fleet from cfg. It does not connect anything yet.
func New(cfg Config) (*Fleet, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Fleet{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "sim"),
		byID:    make(map[string]*scooter, len(cfg.Vehicles)),
		connSem: make(chan struct{}, cfg.ConnectConcurrency),
	}
	now := cfg.Clock.Now()
	for i, v := range cfg.Vehicles {
		if _, dup := f.byID[v.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate vehicle %q", ErrConfig, v.ID)
		}
		if v.Secret == "" {
			return nil, fmt.Errorf("%w: vehicle %q has no secret", ErrConfig, v.ID)
		}
		s := newScooter(f, i, v, now)
		f.scooters = append(f.scooters, s)
		f.byID[v.ID] = s
	}
	return f, nil
}

// Start connects every scooter (paced by ConnectRate) and, unless Manual,
// starts the workers. It returns at once; use WaitConnected to wait.
func (f *Fleet) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.started {
		return fmt.Errorf("%w: fleet already started", ErrConfig)
	}
	if f.cfg.Broker == "" {
		return fmt.Errorf("%w: no broker address", ErrConfig)
	}
	u, err := url.Parse(f.brokerURL())
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: broker address %q", ErrConfig, f.cfg.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "tls", "ssl", "mqtts":
	default:
		return fmt.Errorf("%w: broker scheme %q (want tcp or tls)", ErrConfig, u.Scheme)
	}
	f.started = true
	f.ctx, f.cancel = context.WithCancel(ctx)
	for _, s := range f.scooters {
		s.mu.Lock()
		s.connecting = true
		s.mu.Unlock()
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for _, s := range f.scooters {
			if !f.launchConnect(s) {
				return
			}
		}
	}()
	if !f.cfg.Manual {
		f.startWorkers()
	}
	return nil
}

// startWorkers runs Workers goroutines, each stepping its share of the
// scooters on every tick of one ticker. Caller holds f.mu.
func (f *Fleet) startWorkers() {
	n := min(f.cfg.Workers, max(1, len(f.scooters)))
	chans := make([]chan time.Time, n)
	for w := range n {
		chans[w] = make(chan time.Time, 1)
		f.wg.Add(1)
		go func(w int) {
			defer f.wg.Done()
			var buf []out
			for {
				select {
				case <-f.ctx.Done():
					return
				case <-chans[w]:
					now := f.cfg.Clock.Now()
					for i := w; i < len(f.scooters); i += n {
						buf = f.stepOne(f.scooters[i], now, buf[:0])
					}
				}
			}
		}(w)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t := time.NewTicker(f.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-f.ctx.Done():
				return
			case now := <-t.C:
				for _, c := range chans {
					select { // a busy worker catches up on its next tick
					case c <- now:
					default:
					}
				}
			}
		}
	}()
}

// Step advances every scooter to the clock's current time on the calling
// goroutine (Manual mode; harmless otherwise).
func (f *Fleet) Step() {
	now := f.cfg.Clock.Now()
	var buf []out
	for _, s := range f.scooters {
		buf = f.stepOne(s, now, buf[:0])
	}
}

func (f *Fleet) stepOne(s *scooter, now time.Time, buf []out) []out {
	s.mu.Lock()
	buf, connect, drop := s.step(now, buf)
	client, conn := s.client, s.conn
	s.mu.Unlock()
	f.publish(client, buf)
	if drop && conn != nil {
		conn.drop() // an abrupt loss, no DISCONNECT
	}
	if connect {
		f.launchConnect(s)
	}
	return buf
}

// publish hands msgs to the client without waiting for acknowledgements.
func (f *Fleet) publish(c mqtt.Client, msgs []out) {
	if c == nil {
		return
	}
	for _, m := range msgs {
		tok := c.Publish(m.topic, m.qos, false, m.payload)
		f.stats.published.Add(1)
		select {
		case <-tok.Done():
			if tok.Error() != nil {
				f.stats.publishErrors.Add(1)
			}
		default:
		}
	}
}

// launchConnect starts a connection attempt for s in its own goroutine,
// paced by ConnectRate and bounded by ConnectConcurrency. It reports false
// when the fleet is stopping.
func (f *Fleet) launchConnect(s *scooter) bool {
	f.mu.Lock()
	ctx := f.ctx
	f.mu.Unlock()
	if ctx == nil { // never started (offline fleet): nothing to connect to
		s.mu.Lock()
		s.connecting = false
		s.reconnectAt = f.cfg.Clock.Now().Add(time.Hour)
		s.mu.Unlock()
		return false
	}
	select {
	case f.connSem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	f.mu.Lock()
	if f.closed { // Close is waiting: start nothing new
		f.mu.Unlock()
		<-f.connSem
		return false
	}
	now := time.Now()
	slot := f.nextConn
	if slot.Before(now) {
		slot = now
	}
	f.nextConn = slot.Add(time.Second / time.Duration(f.cfg.ConnectRate))
	f.wg.Add(1) // under f.mu, so never after Close began waiting
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		defer func() { <-f.connSem }()
		if d := time.Until(slot); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-f.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		f.connect(s)
	}()
	return true
}

// connect makes one connection attempt for s and subscribes to its topic.
func (f *Fleet) connect(s *scooter) {
	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	opts := mqtt.NewClientOptions().
		AddBroker(f.brokerURL()).
		SetClientID(s.cred.ID).SetUsername(s.cred.ID).SetPassword(s.cred.Secret).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetKeepAlive(f.cfg.KeepAlive).SetConnectTimeout(f.cfg.ConnectTimeout).
		SetWriteTimeout(5 * time.Second).SetOrderMatters(true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			raw, err := f.dial(u)
			if err != nil {
				return nil, err
			}
			c := &dropConn{Conn: raw}
			s.mu.Lock()
			if s.gen == gen {
				s.conn = c
			}
			s.mu.Unlock()
			return c, nil
		}).
		SetConnectionLostHandler(func(mqtt.Client, error) { f.lost(s, gen, f.cfg.ReconnectDelay) })
	client := mqtt.NewClient(opts)
	err := waitToken(f.ctx, client.Connect(), f.cfg.ConnectTimeout)
	if err == nil {
		err = waitToken(f.ctx, client.Subscribe(s.cred.ID, 1, func(_ mqtt.Client, m mqtt.Message) {
			f.handle(s, m.Payload())
		}), f.cfg.ConnectTimeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connecting = false
	if err != nil || s.gen != gen || f.ctx.Err() != nil {
		f.stats.connectErrors.Add(1)
		if f.ctx.Err() == nil {
			f.log.Debug("connect failed", "vehicle", s.cred.ID, "err", err)
		}
		s.reconnectAt = f.cfg.Clock.Now().Add(s.jitter(f.cfg.ReconnectDelay))
		// paho may still be connecting in the background; its Disconnect can
		// wait for that, so it runs on its own short-lived goroutine that
		// ends when paho gives up (ConnectTimeout at most).
		go client.Disconnect(0)
		return
	}
	f.stats.connects.Add(1)
	s.client = client
	s.connected = true
}

// lost is paho's connection-lost callback.
func (f *Fleet) lost(s *scooter, gen uint64, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen || !s.connected {
		return
	}
	f.stats.disconnects.Add(1)
	s.connected, s.client, s.conn = false, nil, nil
	s.reconnectAt = f.cfg.Clock.Now().Add(s.jitter(delay))
}

// jitter is d ±50 %. Caller holds mu.
func (s *scooter) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(s.rng.Int64N(int64(d)+1))
}

// handle processes one command payload on the MQTT goroutine.
func (f *Fleet) handle(s *scooter, payload []byte) {
	outs, act, rec := s.onCommand(payload)
	if cb := f.cfg.OnCommand; cb != nil && rec != nil {
		cb(s.cred.ID, *rec) // outside the scooter's lock: the callback may query the fleet
	}
	s.mu.Lock()
	client, conn := s.client, s.conn
	if act == actReboot {
		s.offlineTill = f.cfg.Clock.Now().Add(f.cfg.RebootDelay)
	}
	s.mu.Unlock()
	f.publish(client, outs)
	if act == actReboot && conn != nil {
		conn.drop() // rebooting: the link just goes away
	}
}

// dial opens the transport for one scooter: TCP, or TLS for tls/ssl/mqtts.
func (f *Fleet) dial(u *url.URL) (net.Conn, error) {
	d := &net.Dialer{Timeout: f.cfg.ConnectTimeout}
	switch u.Scheme {
	case "tls", "ssl", "mqtts":
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.cfg.TLS != nil {
			cfg = f.cfg.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		td := &tls.Dialer{NetDialer: d, Config: cfg}
		return td.DialContext(f.ctx, "tcp", u.Host)
	case "tcp", "mqtt", "":
		return d.DialContext(f.ctx, "tcp", u.Host)
	}
	return nil, fmt.Errorf("%w: broker scheme %q (want tcp or tls)", ErrConfig, u.Scheme)
}

func waitToken(ctx context.Context, t mqtt.Token, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-timer.C:
		return fmt.Errorf("sim: mqtt: timed out after %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Fleet) brokerURL() string {
	if strings.Contains(f.cfg.Broker, "://") {
		return f.cfg.Broker
	}
	return "tcp://" + f.cfg.Broker
}

func (f *Fleet) brokerHostPort() (string, string) {
	u, err := url.Parse(f.brokerURL())
	if err != nil {
		return "", ""
	}
	return u.Hostname(), u.Port()
}

// maxLatencies bounds the fleet-wide latency record (8 MB): a long run keeps
// the most recent half when it fills up.
const maxLatencies = 1 << 20

func (f *Fleet) recordLatency(d time.Duration) {
	f.latMu.Lock()
	if len(f.latencies) >= maxLatencies {
		n := copy(f.latencies, f.latencies[len(f.latencies)/2:])
		f.latencies = f.latencies[:n]
	}
	f.latencies = append(f.latencies, d)
	f.latMu.Unlock()
}

// Close stops the workers, disconnects every scooter and waits for every
// goroutine the fleet started.
func (f *Fleet) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	cancel := f.cancel
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	f.wg.Wait()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, s := range f.scooters {
		s.mu.Lock()
		c := s.client
		s.client, s.connected = nil, false
		s.gen++
		s.mu.Unlock()
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			c.Disconnect(20)
			<-sem
		}()
	}
	wg.Wait()
	return nil
}

// ---- Test and benchmark API ----

// IDs lists the simulated vehicle numbers in configuration order.
func (f *Fleet) IDs() []string {
	ids := make([]string, len(f.scooters))
	for i, s := range f.scooters {
		ids[i] = s.cred.ID
	}
	return ids
}

func (f *Fleet) get(id string) (*scooter, error) {
	s, ok := f.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownVehicle, id)
	}
	return s, nil
}

// State returns a snapshot of one scooter.
func (f *Fleet) State(id string) (State, error) {
	s, err := f.get(id)
	if err != nil {
		return State{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(), nil
}

// ForceRide powers a scooter on as if command 1 had come (no reply is sent).
func (f *Fleet) ForceRide(id string) error {
	s, err := f.get(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.powerOn(false)
	return nil
}

// EndRide powers a scooter off as if command 3 had come (no reply is sent).
func (f *Fleet) EndRide(id string) error {
	s, err := f.get(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.powerOff()
	return nil
}

// Inject arms one occurrence of fault k on a scooter: a disconnect happens
// at once; duplicate, garbage and spoof on its next GPS fix; late-ack,
// missing-ack and firmware-fail on its next reply or package.
func (f *Fleet) Inject(id string, k Fault) error {
	s, err := f.get(id)
	if err != nil {
		return err
	}
	if _, ok := faultNames[k]; !ok {
		return fmt.Errorf("%w: unknown fault %d", ErrConfig, int(k))
	}
	s.mu.Lock()
	if k != FaultDisconnect {
		s.armed[k]++
		s.mu.Unlock()
		return nil
	}
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.drop()
	}
	return nil
}

// SetFaults replaces a scooter's fault probabilities (nil: back to the
// fleet's Config.Faults).
func (f *Fleet) SetFaults(id string, fs *Faults) error {
	s, err := f.get(id)
	if err != nil {
		return err
	}
	if fs != nil {
		if err := fs.validate(); err != nil {
			return err
		}
		c := *fs
		fs = &c
	}
	s.mu.Lock()
	s.faults = fs
	s.mu.Unlock()
	return nil
}

// Vibrate makes a scooter report a vibration (88, and 57 on old firmware) now.
func (f *Fleet) Vibrate(id string) error {
	s, err := f.get(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	outs := s.vibration(nil)
	c := s.client
	s.mu.Unlock()
	f.publish(c, outs)
	return nil
}

// SetFallen sets the posture reported in the next heartbeats.
func (f *Fleet) SetFallen(id string, fallen bool) error {
	s, err := f.get(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.fallen = fallen
	s.mu.Unlock()
	return nil
}

// SendFix publishes a GPS fix of a scooter now, outside its cadence, and
// returns it (a load test can use it to cross a border at a known instant).
func (f *Fleet) SendFix(id string) (Fix, error) {
	s, err := f.get(id)
	if err != nil {
		return Fix{}, err
	}
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return Fix{}, fmt.Errorf("%w: %s", ErrNotConnected, id)
	}
	o, ok := s.fix(f.cfg.Clock.Now(), false)
	if !ok {
		s.mu.Unlock()
		return Fix{}, fmt.Errorf("sim: %s: fix could not be encoded (see Stats.EncodeErrors)", id)
	}
	fx := s.fixes[len(s.fixes)-1]
	c := s.client
	s.mu.Unlock()
	f.publish(c, []out{o})
	return fx, nil
}

// Latencies returns the fix→13 latencies measured so far, oldest first (see
// CommandRecord; at most the last ~1M are kept).
func (f *Fleet) Latencies() []time.Duration {
	f.latMu.Lock()
	defer f.latMu.Unlock()
	return slices.Clone(f.latencies)
}

// Stats returns the fleet's counters.
func (f *Fleet) Stats() Stats {
	st := Stats{
		Scooters:       len(f.scooters),
		Published:      f.stats.published.Load(),
		PublishErrors:  f.stats.publishErrors.Load(),
		Commands:       f.stats.commands.Load(),
		BadCommands:    f.stats.badCommands.Load(),
		DroppedReplies: f.stats.droppedReplies.Load(),
		Connects:       f.stats.connects.Load(),
		ConnectErrors:  f.stats.connectErrors.Load(),
		Disconnects:    f.stats.disconnects.Load(),
		EncodeErrors:   f.stats.encodeErrors.Load(),
	}
	for _, s := range f.scooters {
		s.mu.Lock()
		if s.connected {
			st.Connected++
		}
		if s.powered {
			st.Powered++
		}
		s.mu.Unlock()
	}
	return st
}

// WaitConnected waits until at least n scooters are connected.
func (f *Fleet) WaitConnected(ctx context.Context, n int) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if f.Stats().Connected >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: %d of %d connected: %w", f.Stats().Connected, n, ctx.Err())
		case <-t.C:
		}
	}
}

// Launch is New + Start + WaitConnected for the whole fleet: it returns once
// every scooter is connected, or closes the fleet and fails when ctx ends first.
func Launch(ctx context.Context, cfg Config) (*Fleet, error) {
	f, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := f.Start(ctx); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	if err := f.WaitConnected(ctx, len(f.scooters)); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}
