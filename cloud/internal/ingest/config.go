package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("ingest: invalid configuration")

// Headers of a dead-lettered message.
const (
	HeaderDeadReason  = "Fleet-Dead-Reason"  // why the message could not be processed
	HeaderDeadSubject = "Fleet-Dead-Subject" // the subject it was published on
	HeaderDeadMsgID   = "Fleet-Dead-Msg-Id"  // its Nats-Msg-Id, when it had one
)

// EventHook receives every event batch after its rows were written to ClickHouse
// and before the message is acknowledged; an error naks the pending messages
// (they come back). It must be idempotent on (gateway, seq).
type EventHook func(ctx context.Context, city link.CityID, gateway link.GatewayID, events []link.Event) error

// Config configures the consumer. Zero values take the defaults.
type Config struct {
	// Durable is the JetStream durable consumer name shared by ingest replicas
	// (default "fleet-ingest").
	Durable string
	// FlushRows, FlushMessages and FlushInterval bound a write batch: whichever
	// comes first (defaults 20,000 rows, 512 messages, 500 ms).
	FlushRows     int
	FlushMessages int
	FlushInterval time.Duration
	// Writers is the number of batches written to ClickHouse concurrently
	// (default 2: one INSERT is sent while the server still merges the last).
	Writers int
	// Prefetch is how many messages the client pulls ahead (default 256), within
	// PrefetchBytes (default 64 MiB; must be ≥ the stream's max message size).
	Prefetch      int
	PrefetchBytes int
	// AckWait is how long JetStream waits for an ack before redelivering
	// (default 60 s); it must exceed FlushInterval plus a write.
	AckWait time.Duration
	// NakDelay is the redelivery delay after a transient write error (default 2 s).
	NakDelay time.Duration
	// WriteTimeout bounds one flush (default 30 s).
	WriteTimeout time.Duration
	// StopTimeout bounds the last flush at shutdown (default 10 s).
	StopTimeout time.Duration
	// OnEvents, if set, is called for every event batch (see EventHook).
	OnEvents EventHook
}

// Defaults.
const (
	DefaultDurable       = "fleet-ingest"
	DefaultFlushRows     = 20_000
	DefaultFlushMessages = 512
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultWriters       = 2
	DefaultPrefetch      = 256
	DefaultPrefetchBytes = 64 << 20
	DefaultAckWait       = 60 * time.Second
	DefaultNakDelay      = 2 * time.Second
	DefaultWriteTimeout  = 30 * time.Second
	DefaultStopTimeout   = 10 * time.Second
)

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	def(&c.FlushRows, DefaultFlushRows)
	def(&c.FlushMessages, DefaultFlushMessages)
	def(&c.Writers, DefaultWriters)
	def(&c.Prefetch, DefaultPrefetch)
	def(&c.PrefetchBytes, DefaultPrefetchBytes)
	defD(&c.FlushInterval, DefaultFlushInterval)
	defD(&c.AckWait, DefaultAckWait)
	defD(&c.NakDelay, DefaultNakDelay)
	defD(&c.WriteTimeout, DefaultWriteTimeout)
	defD(&c.StopTimeout, DefaultStopTimeout)
	return c
}

// Validate reports every configuration error, wrapped in ErrConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Durable != "" {
		if _, err := link.ParseGatewayID(c.Durable); err != nil { // same alphabet as a subject token
			bad("durable %q: use a-z 0-9 _ -", c.Durable)
		}
	}
	if c.Writers < 0 || c.Writers > 16 {
		bad("writers %d outside 1-16", c.Writers)
	}
	if c.FlushRows < 0 || c.FlushMessages < 0 || c.Prefetch < 0 || c.PrefetchBytes < 0 {
		bad("flush and prefetch sizes must not be negative")
	}
	if c.FlushInterval < 0 || c.AckWait < 0 || c.NakDelay < 0 || c.WriteTimeout < 0 || c.StopTimeout < 0 {
		bad("durations must not be negative")
	}
	d := c.withDefaults()
	if d.AckWait <= d.FlushInterval+d.WriteTimeout/2 {
		bad("ack wait %v too short for flush interval %v and write timeout %v", d.AckWait, d.FlushInterval, d.WriteTimeout)
	}
	return errors.Join(errs...)
}
