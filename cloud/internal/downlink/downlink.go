package downlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

var (
	// ErrConfig is wrapped by every configuration error of New.
	ErrConfig = errors.New("downlink: invalid configuration")
	// ErrInvalid wraps the validation error of a document or request that was
	// not sent.
	ErrInvalid = errors.New("downlink: invalid")
	// ErrNotNewer means a document's version is not above the one published.
	ErrNotNewer = errors.New("downlink: document version not above the published one")
	// ErrConflict means another writer changed the document between our read
	// and our write; nothing was written.
	ErrConflict = errors.New("downlink: document changed concurrently")
	// ErrTooLarge means a document is above the server's max_payload.
	ErrTooLarge = errors.New("downlink: document too large for NATS")
	// ErrNoGateway means no gateway of the city is subscribed to its command
	// subject (NATS no responders): the command was not sent.
	ErrNoGateway = errors.New("downlink: no gateway of the city is connected")
	// ErrNoReply means the gateway did not answer in time; the command may
	// have been sent.
	ErrNoReply = errors.New("downlink: no reply from the gateway in time")
	// ErrBadReply means the gateway's answer did not decode or did not match.
	ErrBadReply = errors.New("downlink: bad reply from the gateway")
)

// Document is a configuration document: *link.ZonesDoc, *link.VehiclesDoc,
// *link.TariffsDoc or *link.TechniciansDoc.
type Document interface{ Validate() error }

// Defaults.
const (
	DefaultHistory        = 5
	DefaultTimeout        = 60 * time.Second
	DefaultMargin         = 2 * time.Second
	DefaultRequestTimeout = 10 * time.Second
)

// Config tunes a Downlink; zero values take the defaults.
type Config struct {
	// History is the number of revisions kept per key (2-64, default 5).
	History int
	// Replicas of each city bucket (1 for one server, 3 in a cluster).
	Replicas int
	// DefaultTimeout is the wait for a request without timeout_ms; keep it
	// equal to the gateways' cloudlink DefaultWait (60 s).
	DefaultTimeout time.Duration
	// Margin is added to every command wait so the gateway's own timeout
	// answers first (above the gateway's ReplyGrace, 1 s).
	Margin time.Duration
	// RequestTimeout bounds each JetStream API call (bucket lookup, get, put).
	RequestTimeout time.Duration
	// ZoneOptions validate zones documents (as the gateways load them).
	ZoneOptions zone.Options
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // nil: metrics not registered
}

// Downlink sends commands and configuration to city gateways. See doc.go.
type Downlink struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	met metrics

	mu      sync.Mutex // guards buckets
	buckets map[link.CityID]jetstream.KeyValue

	// beforeWrite, when set (tests), runs between the read of the current
	// document and the conditional write.
	beforeWrite func()
}

// New builds a Downlink on the cloud's connection and JetStream (natsbus.Bus
// Conn and JetStream).
func New(nc *nats.Conn, js jetstream.JetStream, cfg Config) (*Downlink, error) {
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.DefaultTimeout == 0 {
		cfg.DefaultTimeout = DefaultTimeout
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if nc == nil || js == nil {
		errs = append(errs, fmt.Errorf("%w: needs a NATS connection and JetStream", ErrConfig))
	}
	if cfg.History < 2 || cfg.History > 64 {
		errs = append(errs, fmt.Errorf("%w: history %d outside 2-64", ErrConfig, cfg.History))
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%w: replicas %d outside 1-5", ErrConfig, cfg.Replicas))
	}
	if cfg.DefaultTimeout < 0 || cfg.Margin < 0 || cfg.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: negative timeout", ErrConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d := &Downlink{cfg: cfg, nc: nc, js: js, log: cfg.Logger.With("component", "downlink"),
		buckets: map[link.CityID]jetstream.KeyValue{}}
	var err error
	if d.met, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	return d, nil
}

// describe returns the key, version and city of a document.
func describe(doc Document) (kind string, version int64, city link.CityID, err error) {
	switch d := doc.(type) {
	case *link.ZonesDoc:
		if d != nil {
			return link.ConfigZones, d.Version, d.City, nil
		}
	case *link.VehiclesDoc:
		if d != nil {
			return link.ConfigVehicles, d.Version, d.City, nil
		}
	case *link.TariffsDoc:
		if d != nil {
			return link.ConfigTariffs, d.Version, d.City, nil
		}
	case *link.TechniciansDoc:
		if d != nil {
			return link.ConfigTechnicians, d.Version, d.City, nil
		}
	}
	if doc == nil || reflect.ValueOf(doc).IsNil() {
		return "", 0, "", fmt.Errorf("%w: nil document", ErrInvalid)
	}
	return "", 0, "", fmt.Errorf("%w: unknown document type %T", ErrInvalid, doc)
}

// validate checks doc for city completely, as a gateway will.
func (d *Downlink) validate(city link.CityID, doc Document) (kind string, version int64, err error) {
	if _, err := link.ParseCityID(string(city)); err != nil {
		return "", 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	kind, version, docCity, err := describe(doc)
	if err != nil {
		return "", 0, err
	}
	if err := doc.Validate(); err != nil {
		return kind, 0, fmt.Errorf("%w: %s: %w", ErrInvalid, kind, err)
	}
	if docCity != city {
		return kind, 0, fmt.Errorf("%w: %s names city %q, published to %q", ErrInvalid, kind, docCity, city)
	}
	if z, ok := doc.(*link.ZonesDoc); ok {
		if _, err := zone.Load(z.Geofence, d.cfg.ZoneOptions); err != nil {
			return kind, 0, fmt.Errorf("%w: %s: %w", ErrInvalid, kind, err)
		}
	}
	return kind, version, nil
}

// PublishConfig validates doc and publishes it to city's bucket (created if
// missing) if its version is above the published one. It returns the KV
// revision written. Errors: ErrInvalid (nothing written), ErrTooLarge (above
// the server's max_payload: raise it, natsbus Stream.MaxMsgSize), ErrNotNewer,
// ErrConflict (someone else wrote in between: re-read and retry), or the
// NATS error.
func (d *Downlink) PublishConfig(ctx context.Context, city link.CityID, doc Document) (uint64, error) {
	kind, version, err := d.validate(city, doc)
	if err != nil {
		d.met.refused(kind, "invalid")
		return 0, fmt.Errorf("downlink: publish config: %w", err)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return 0, fmt.Errorf("downlink: publish config: %w: %w", ErrInvalid, err)
	}
	if max := d.nc.MaxPayload(); max > 0 && int64(len(data)) > max {
		d.met.refused(kind, "too_large")
		return 0, fmt.Errorf("downlink: publish config %s/%s: %w: %d bytes, the server takes %d (raise max_payload)",
			city, kind, ErrTooLarge, len(data), max)
	}
	kv, err := d.bucket(ctx, city)
	if err != nil {
		return 0, fmt.Errorf("downlink: publish config %s/%s: %w", city, kind, err)
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	cur, err := kv.Get(rctx, kind)
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if d.beforeWrite != nil {
			d.beforeWrite()
		}
		rev, err = kv.Create(rctx, kind, data)
	case err != nil:
		return 0, fmt.Errorf("downlink: publish config %s/%s: read current: %w", city, kind, err)
	default:
		var head struct {
			Version int64 `json:"version"`
		}
		// An undecodable current value (written by hand) does not block a valid new one.
		if json.Unmarshal(cur.Value(), &head) == nil && version <= head.Version {
			d.met.refused(kind, "not_newer")
			return 0, fmt.Errorf("downlink: publish config %s/%s: %w: version %d, published %d",
				city, kind, ErrNotNewer, version, head.Version)
		}
		if d.beforeWrite != nil {
			d.beforeWrite()
		}
		rev, err = kv.Update(rctx, kind, data, cur.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		d.met.refused(kind, "conflict")
		return 0, fmt.Errorf("downlink: publish config %s/%s: %w", city, kind, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("downlink: publish config %s/%s: %w", city, kind, err)
	}
	d.met.published.WithLabelValues(kind).Inc()
	d.log.Info("config published", "city", city, "kind", kind, "version", version, "revision", rev, "bytes", len(data))
	return rev, nil
}

// Published is the document currently in a city's bucket.
type Published struct {
	Version  int64
	Revision uint64
	Data     []byte // the document's JSON
}

// CurrentConfig returns the published document of kind for city, or an error
// wrapping jetstream.ErrKeyNotFound / jetstream.ErrBucketNotFound.
func (d *Downlink) CurrentConfig(ctx context.Context, city link.CityID, kind string) (Published, error) {
	if _, err := link.ParseCityID(string(city)); err != nil {
		return Published{}, fmt.Errorf("downlink: current config: %w: %w", ErrInvalid, err)
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	kv, err := d.js.KeyValue(rctx, link.ConfigBucket(city))
	if err != nil {
		return Published{}, fmt.Errorf("downlink: current config %s/%s: %w", city, kind, err)
	}
	e, err := kv.Get(rctx, kind)
	if err != nil {
		return Published{}, fmt.Errorf("downlink: current config %s/%s: %w", city, kind, err)
	}
	var head struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(e.Value(), &head); err != nil {
		return Published{}, fmt.Errorf("downlink: current config %s/%s: %w", city, kind, err)
	}
	return Published{Version: head.Version, Revision: e.Revision(), Data: e.Value()}, nil
}

// bucket returns city's bucket, creating it when missing.
func (d *Downlink) bucket(ctx context.Context, city link.CityID) (jetstream.KeyValue, error) {
	d.mu.Lock()
	kv := d.buckets[city]
	d.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	name := link.ConfigBucket(city)
	kv, err := d.js.KeyValue(rctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = d.js.CreateKeyValue(rctx, jetstream.KeyValueConfig{
			Bucket:      name,
			Description: "fleetedge: configuration of city " + string(city) + " (zones, vehicles, tariffs, technicians)",
			History:     uint8(d.cfg.History),
			Storage:     jetstream.FileStorage,
			Replicas:    d.cfg.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // created concurrently
			kv, err = d.js.KeyValue(rctx, name)
		}
		if err == nil {
			d.log.Info("config bucket created", "bucket", name, "history", d.cfg.History)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	d.mu.Lock()
	d.buckets[city] = kv
	d.mu.Unlock()
	return kv, nil
}

// SendCommand sends req to city's gateway and returns the gateway's result
// (whose Outcome says what the scooter did). An error means no result:
// ErrInvalid (not sent), ErrNoGateway (not sent: no gateway of the city is
// connected), ErrNoReply (no answer in time; it may have been sent),
// ErrBadReply, ctx's error, or the NATS error.
func (d *Downlink) SendCommand(ctx context.Context, city link.CityID, req link.CommandRequest) (link.CommandResult, error) {
	start := time.Now()
	res, err := d.sendCommand(ctx, city, req)
	outcome := string(res.Outcome)
	switch {
	case errors.Is(err, ErrNoGateway):
		outcome = "no_gateway"
	case errors.Is(err, ErrNoReply):
		outcome = "no_reply"
	case errors.Is(err, ErrInvalid):
		outcome = "invalid"
	case err != nil:
		outcome = "error"
	}
	d.met.commands.WithLabelValues(outcome).Inc()
	if err == nil {
		d.met.latency.Observe(time.Since(start).Seconds())
	}
	return res, err
}

func (d *Downlink) sendCommand(ctx context.Context, city link.CityID, req link.CommandRequest) (link.CommandResult, error) {
	if _, err := link.ParseCityID(string(city)); err != nil {
		return link.CommandResult{}, fmt.Errorf("downlink: send command: %w: %w", ErrInvalid, err)
	}
	if err := req.Validate(); err != nil {
		return link.CommandResult{}, fmt.Errorf("downlink: send command: %w: %w", ErrInvalid, err)
	}
	data, err := json.Marshal(req)
	if err != nil {
		return link.CommandResult{}, fmt.Errorf("downlink: send command: %w: %w", ErrInvalid, err)
	}
	wait := d.cfg.DefaultTimeout
	if req.TimeoutMs > 0 {
		wait = time.Duration(req.TimeoutMs) * time.Millisecond
	}
	wctx, cancel := context.WithTimeout(ctx, wait+d.cfg.Margin)
	defer cancel()
	msg, err := d.nc.RequestWithContext(wctx, link.CommandSubject(city), data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return link.CommandResult{}, fmt.Errorf("downlink: command %s to %s in %s: %w (%w)", req.ID, req.Vehicle, city, ErrNoGateway, err)
	case err != nil && ctx.Err() != nil:
		return link.CommandResult{}, fmt.Errorf("downlink: command %s to %s in %s: %w", req.ID, req.Vehicle, city, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return link.CommandResult{}, fmt.Errorf("downlink: command %s to %s in %s: %w after %v", req.ID, req.Vehicle, city, ErrNoReply, wait+d.cfg.Margin)
	case err != nil:
		return link.CommandResult{}, fmt.Errorf("downlink: command %s to %s in %s: %w", req.ID, req.Vehicle, city, err)
	}
	var res link.CommandResult
	if err := json.Unmarshal(msg.Data, &res); err != nil {
		return link.CommandResult{}, fmt.Errorf("downlink: command %s: %w: %v", req.ID, ErrBadReply, err)
	}
	if res.ID != req.ID || res.Outcome == "" {
		return res, fmt.Errorf("downlink: command %s: %w: result for %q with outcome %q", req.ID, ErrBadReply, res.ID, res.Outcome)
	}
	return res, nil
}

type metrics struct {
	commands  *prometheus.CounterVec
	latency   prometheus.Histogram
	published *prometheus.CounterVec
	refusedV  *prometheus.CounterVec
}

func (m metrics) refused(kind, reason string) {
	if kind == "" {
		kind = "unknown"
	}
	m.refusedV.WithLabelValues(kind, reason).Inc()
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetedge_downlink_commands_total",
			Help: "Commands sent to gateways, by outcome (the scooter's, or no_gateway, no_reply, invalid, error)."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fleetedge_downlink_command_seconds",
			Help:    "Time from sending a command to a gateway to its result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetedge_downlink_config_published_total",
			Help: "Configuration documents published to city buckets, by kind."}, []string{"kind"}),
		refusedV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetedge_downlink_config_refused_total",
			Help: "Configuration documents not published, by kind and reason (invalid, not_newer, conflict)."},
			[]string{"kind", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.commands, m.latency, m.published, m.refusedV} {
		if err := reg.Register(c); err != nil {
			return m, fmt.Errorf("downlink: register metrics: %w", err)
		}
	}
	return m, nil
}
