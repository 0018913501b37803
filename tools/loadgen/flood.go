package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/tools/sim"
)

// ErrFlood is wrapped by Flood's errors.
var ErrFlood = errors.New("loadgen: flood")

// FloodConfig configures a durable-ingest flood: Conns scooters, each an
// MQTT 3.1.1 connection with its own credentials, publishing QoS 1 GPS
// reports with up to Window PUBACKs outstanding. A gateway acknowledges a
// QoS 1 report only once it is durable, so the PUBACK rate is the durable
// ingest rate.
type FloodConfig struct {
	Broker   string // host:port
	Vehicles []sim.Credential
	Window   int           // in-flight publishes per connection (default 32)
	Warmup   time.Duration // flood before counting (default 2 s)
	Duration time.Duration // counted period (default 20 s)
	// Lat, Lon is where the reports say the scooters are (default Barcelona's Eixample).
	Lat, Lon float64
}

// FloodResult is what a flood measured (client side).
type FloodResult struct {
	Conns, Window int
	Connected     int
	ConnectTime   time.Duration // all connections up
	Duration      time.Duration // counted period
	Acked         uint64        // PUBACKs in the counted period
	Rate          float64       // Acked per second
	Errors        int           // connections that failed or broke
	FirstError    string
}

// Flood connects every vehicle, floods for Warmup+Duration and returns the
// PUBACK rate over Duration. It closes every connection before returning.
func Flood(ctx context.Context, cfg FloodConfig) (FloodResult, error) {
	if cfg.Window <= 0 {
		cfg.Window = 32
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 2 * time.Second
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.Lat == 0 && cfg.Lon == 0 {
		cfg.Lat, cfg.Lon = 41.3915, 2.1650
	}
	res := FloodResult{Conns: len(cfg.Vehicles), Window: cfg.Window}
	if len(cfg.Vehicles) == 0 {
		return res, fmt.Errorf("%w: no vehicles", ErrFlood)
	}
	var (
		mu    sync.Mutex
		conns []*floodConn
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 64)
	)
	start := time.Now()
	for i, v := range cfg.Vehicles {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialFlood(ctx, cfg, v, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	res.ConnectTime = time.Since(start)
	res.Connected = len(conns)
	if len(errs) > 0 {
		res.Errors = len(errs)
		res.FirstError = errs[0].Error()
	}
	if len(conns) == 0 {
		return res, fmt.Errorf("%w: no connection: %w", ErrFlood, errors.Join(errs...))
	}
	fctx, cancel := context.WithCancel(ctx)
	var acked atomic.Uint64
	var broken atomic.Int64
	var firstErr atomic.Value
	for _, c := range conns {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := c.write(fctx); err != nil && fctx.Err() == nil {
				broken.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
		go func() {
			defer wg.Done()
			if err := c.read(&acked); err != nil && fctx.Err() == nil {
				broken.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	sleep := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	sleep(cfg.Warmup)
	a0, t0 := acked.Load(), time.Now()
	sleep(cfg.Duration)
	a1, t1 := acked.Load(), time.Now()
	cancel()
	for _, c := range conns {
		c.conn.Close()
	}
	wg.Wait()
	res.Duration = t1.Sub(t0)
	res.Acked = a1 - a0
	res.Rate = float64(res.Acked) / res.Duration.Seconds()
	res.Errors += int(broken.Load())
	if s, ok := firstErr.Load().(string); ok && res.FirstError == "" {
		res.FirstError = s
	}
	return res, ctx.Err()
}

type floodConn struct {
	conn   net.Conn
	topic  string
	report []byte
	slots  chan struct{}
}

func dialFlood(ctx context.Context, cfg FloodConfig, v sim.Credential, i int) (*floodConn, error) {
	r := &protocol.GPSReport{
		Header: protocol.Header{From: protocol.VehicleID(v.ID)},
		// Spread the scooters over ~1 km so the rules see different places.
		Position: protocol.GPS{Lat: cfg.Lat + float64(i%100)*1e-4, Lon: cfg.Lon + float64(i/100%100)*1e-4},
		Time:     time.Now().Unix(),
	}
	pkt, err := protocol.EncodeReport(r, protocol.Quirks{})
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %w", ErrFlood, v.ID, err)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("%w: dial: %w", ErrFlood, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(connectPacket(v.ID, v.ID, v.Secret, 60)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: connect: %w", ErrFlood, v.ID, err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: connack: %w", ErrFlood, v.ID, err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: connection refused (CONNACK % x)", ErrFlood, v.ID, ack)
	}
	_ = conn.SetDeadline(time.Time{})
	return &floodConn{conn: conn, topic: pkt.Topic, report: pkt.Payload, slots: make(chan struct{}, cfg.Window)}, nil
}

// write publishes as long as a slot is free, flushing before it blocks.
func (c *floodConn) write(ctx context.Context) error {
	w := bufio.NewWriterSize(c.conn, 16<<10)
	var id uint16
	var buf []byte
	for {
		select {
		case c.slots <- struct{}{}:
		default:
			if err := w.Flush(); err != nil {
				return err
			}
			select {
			case c.slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
		}
		id++
		if id == 0 {
			id = 1
		}
		buf = publishPacket(buf[:0], c.topic, id, c.report)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
}

// read counts PUBACKs and frees their slots; other packets are skipped.
func (c *floodConn) read(acked *atomic.Uint64) error {
	r := bufio.NewReaderSize(c.conn, 4<<10)
	for {
		h, err := r.ReadByte()
		if err != nil {
			return err
		}
		n, err := binary.ReadUvarint(r) // MQTT's remaining length is the same base-128 code
		if err != nil {
			return err
		}
		if _, err := r.Discard(int(n)); err != nil {
			return err
		}
		if h>>4 == 4 { // PUBACK
			acked.Add(1)
			select {
			case <-c.slots:
			default:
			}
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendRemaining(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// connectPacket is an MQTT 3.1.1 CONNECT with clean session, user and password.
func connectPacket(clientID, user, pass string, keepAlive uint16) []byte {
	var body []byte
	body = appendString(body, "MQTT")
	body = append(body, 4, 0xC2) // level 4; username, password, clean session
	body = binary.BigEndian.AppendUint16(body, keepAlive)
	body = appendString(body, clientID)
	body = appendString(body, user)
	body = appendString(body, pass)
	out := appendRemaining([]byte{0x10}, len(body))
	return append(out, body...)
}

// publishPacket appends a QoS 1 PUBLISH.
func publishPacket(b []byte, topic string, id uint16, payload []byte) []byte {
	b = append(b, 0x32)
	b = appendRemaining(b, 2+len(topic)+2+len(payload))
	b = appendString(b, topic)
	b = binary.BigEndian.AppendUint16(b, id)
	return append(b, payload...)
}
