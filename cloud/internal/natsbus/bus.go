package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/gatewayauth"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotReady is returned by Check when the connection or JetStream is not usable.
var ErrNotReady = errors.New("nats not ready")

// ErrEmbeddedStart wraps failures of the embedded server to start (port in use, store
// directory unusable): waiting does not fix them.
var ErrEmbeddedStart = errors.New("embedded nats-server did not start")

// Bus is the cloud's JetStream: an optional embedded server, one client connection, and the
// up stream. Open starts everything; Close stops it. Methods are safe for concurrent use.
type Bus struct {
	log    *slog.Logger
	srv    *server.Server // nil when connected to an external URL
	emb    *embedded      // nil when connected to an external URL
	nc     *nats.Conn
	js     jetstream.JetStream
	closed chan struct{} // closed by the connection's ClosedHandler
}

// Open starts the embedded server (when cfg.URL is empty) or connects to cfg.URL, then creates
// or updates the up stream. On error nothing is left running.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	b := &Bus{log: log, closed: make(chan struct{})}

	opts := []nats.Option{
		nats.Name("fleetedge-cloud"),
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1), // a cloud replica never gives up on its bus; readiness reports it
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close/Drain
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", Redact(nc.ConnectedUrl())) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats async error", "subject", subj, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
	}
	url := cfg.URL
	if cfg.URL == "" {
		emb, err := startEmbedded(ctx, cfg.Embedded, cfg.Stream.MaxMsgSize, log)
		if err != nil {
			return nil, err
		}
		b.srv, b.emb = emb.srv, emb
		// The in-process pipe needs no TLS; a tls:// URL would make the client insist on it.
		url = "nats://" + emb.srv.Addr().String()
		opts = append(opts, nats.InProcessServer(emb.srv))
		if emb.cloudKey != nil {
			opts = append(opts, nats.Nkey(emb.cloudUser.Nkey, emb.cloudKey.Sign))
		}
	} else {
		if cfg.NkeySeedFile != "" {
			o, err := nats.NkeyOptionFromSeed(cfg.NkeySeedFile)
			if err != nil {
				return nil, fmt.Errorf("%w: nkey seed file: %w", ErrConfig, err)
			}
			opts = append(opts, o)
		}
		if cfg.ClientTLS.CAFile != "" {
			opts = append(opts, nats.RootCAs(cfg.ClientTLS.CAFile))
		}
		if cfg.ClientTLS.CertFile != "" {
			opts = append(opts, nats.ClientCert(cfg.ClientTLS.CertFile, cfg.ClientTLS.KeyFile))
		}
	}

	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.stopServer()
		return nil, fmt.Errorf("nats connect %s: %w", Redact(url), err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.shutdown()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.js = js
	if _, err := EnsureStream(ctx, js, cfg.Stream); err != nil {
		b.shutdown()
		return nil, err
	}
	if _, err := EnsureDeadStream(ctx, js, cfg.Stream.Replicas); err != nil {
		b.shutdown()
		return nil, err
	}
	log.Info("nats ready", "embedded", b.srv != nil, "url", Redact(url), "stream", link.StreamUp)
	return b, nil
}

// EnsureStream creates the up stream or updates it to cfg. It fails when an existing stream
// cannot be changed to cfg (e.g. its storage type differs): that needs an operator.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (*jetstream.StreamInfo, error) {
	s, err := js.CreateOrUpdateStream(ctx, streamConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", link.StreamUp, err)
	}
	return s.CachedInfo(), nil
}

// Dead-letter stream limits: a month of history, at most 1 GiB (the oldest go first).
const (
	deadMaxAge   = 30 * 24 * time.Hour
	deadMaxBytes = 1 << 30
)

// EnsureDeadStream creates or updates the dead-letter stream (link.StreamDead), so what
// the cloud could not process is kept with its reason, not just published to whoever listens.
func EnsureDeadStream(ctx context.Context, js jetstream.JetStream, replicas int) (*jetstream.StreamInfo, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        link.StreamDead,
		Description: "fleetedge: up-messages the cloud could not process, with the reason in headers",
		Subjects:    []string{link.SubjectsDead},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      deadMaxAge,
		MaxBytes:    deadMaxBytes,
		MaxMsgs:     -1,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", link.StreamDead, err)
	}
	return s.CachedInfo(), nil
}

func streamConfig(cfg StreamConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        link.StreamUp,
		Description: "fleetedge: telemetry and events from city gateways",
		Subjects:    []string{link.SubjectsUp},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		Duplicates:  cfg.DuplicateWindow,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		MaxMsgs:     -1,
		MaxMsgSize:  cfg.MaxMsgSize,
		Replicas:    cfg.Replicas,
		// Gateways must not be able to erase what they sent; an operator can still purge
		// after deleting this flag by hand.
		DenyDelete: true,
	}
}

func startEmbedded(ctx context.Context, cfg EmbeddedConfig, maxMsgSize int32, log *slog.Logger) (*embedded, error) {
	emb := &embedded{auth: cfg.Auth}
	if cfg.Auth.RosterFile != "" {
		ro, err := gatewayauth.Load(cfg.Auth.RosterFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if err := emb.newCloudKey(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
		}
		emb.roster = ro
	} else {
		log.Warn("nats client listener without authentication", "host", cfg.Host,
			"reason", "no gateways roster file; allowed on loopback only")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("%w: store dir: %w", ErrEmbeddedStart, err)
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT // nats treats 0 as 4222; we treat it as ":0"
	}
	name := cfg.ServerName
	if name == "" {
		name = "fleetedge-cloud"
	}
	opts := &server.Options{
		ServerName:        name,
		Host:              cfg.Host,
		Port:              port,
		NoSigs:            true, // signals belong to main
		JetStream:         true,
		StoreDir:          cfg.StoreDir,
		JetStreamMaxStore: cfg.MaxStore,
		SyncAlways:        cfg.FsyncInterval == 0,
		SyncInterval:      cfg.FsyncInterval,
	}
	if maxMsgSize > 1<<20 {
		// nats-server refuses payloads above its max_payload (1 MiB by default) before the stream sees them.
		opts.MaxPayload = maxMsgSize
	}
	if opts.SyncAlways {
		// Background flush interval still applies to index/metadata files; keep nats' default.
		opts.SyncInterval = 2 * time.Minute
	}
	if cfg.TLS.CertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: cfg.TLS.CertFile,
			KeyFile:  cfg.TLS.KeyFile,
			CaFile:   cfg.TLS.ClientCAFile,
			Verify:   cfg.TLS.ClientCAFile != "",
		})
		if err != nil {
			return nil, fmt.Errorf("%w: server tls: %v", ErrConfig, err)
		}
		opts.TLSConfig = tc
		opts.TLS = true
		opts.TLSVerify = cfg.TLS.ClientCAFile != ""
		opts.TLSTimeout = 2 // seconds
	}
	if emb.cloudKey != nil {
		opts.Nkeys = emb.users(emb.roster)
	}
	// NewServer adjusts the options it is given; reloads start from this untouched copy.
	emb.opts = opts.Clone()
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
	}
	lg := &serverLogger{log: log}
	debug := log.Enabled(ctx, slog.LevelDebug)
	srv.SetLoggerV2(lg, debug, false, false)
	srv.Start()
	for {
		if srv.ReadyForConnections(50 * time.Millisecond) {
			break
		}
		if msg := lg.fatal.Load(); msg != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("%w: %s", ErrEmbeddedStart, *msg)
		}
		if ctx.Err() != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("%w: not ready: %w", ErrEmbeddedStart, ctx.Err())
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		if msg := lg.fatal.Load(); msg != nil {
			return nil, fmt.Errorf("%w: %s", ErrEmbeddedStart, *msg)
		}
		return nil, fmt.Errorf("%w: jetstream not enabled", ErrEmbeddedStart)
	}
	emb.srv = srv
	return emb, nil
}

// Conn is the cloud's connection (in-process to the embedded server, TCP to an external one).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context on Conn.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Embedded reports whether this bus runs its own server.
func (b *Bus) Embedded() bool { return b.srv != nil }

// ClientURL is the URL gateways and tools use: the embedded server's client listener (with
// the real port when configured random), or the configured external URL with secrets redacted.
func (b *Bus) ClientURL() string {
	if b.srv != nil {
		return b.srv.ClientURL()
	}
	return Redact(b.nc.ConnectedUrl())
}

// Check is the readiness check: connected, and JetStream answers for the up stream.
func (b *Bus) Check(ctx context.Context) error {
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w: connection %v", ErrNotReady, st)
	}
	if _, err := b.js.Stream(ctx, link.StreamUp); err != nil {
		return fmt.Errorf("%w: stream %s: %v", ErrNotReady, link.StreamUp, err)
	}
	return nil
}

// Close drains the connection (letting subscribers finish what they hold, bounded) and shuts
// the embedded server down, which flushes its store. Call once, after the components that use
// the bus stopped.
func (b *Bus) Close() error {
	err := b.drain(10 * time.Second)
	b.stopServer()
	return err
}

func (b *Bus) drain(timeout time.Duration) error {
	if b.nc == nil {
		return nil
	}
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
		switch {
		case errors.Is(err, nats.ErrConnectionClosed):
			return nil
		case errors.Is(err, nats.ErrConnectionReconnecting):
			// The server is gone: there is nothing to drain to. Unacked messages are
			// redelivered by JetStream, so closing loses nothing that was confirmed.
			b.log.Warn("nats closed without drain", "reason", "connection reconnecting")
			return nil
		}
		return fmt.Errorf("nats drain: %w", err)
	}
	select {
	case <-b.closed:
		return nil
	case <-time.After(timeout):
		b.nc.Close()
		return fmt.Errorf("nats drain: not done after %v", timeout)
	}
}

func (b *Bus) shutdown() {
	if b.nc != nil {
		b.nc.Close()
	}
	b.stopServer()
}

func (b *Bus) stopServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
