package uplink

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSConfig is the gateway's connection to the cloud's NATS.
type NATSConfig struct {
	// URL of the cloud's NATS (comma-separated for a cluster), e.g. nats://cloud:4222.
	URL string
	// Name identifies the connection in the server's monitoring (e.g. "gateway-<id>").
	Name string
	// CAFile verifies the server certificate; CertFile and KeyFile present a client
	// certificate (mTLS). CredsFile is a NATS user credentials file. All optional.
	CAFile    string
	CertFile  string
	KeyFile   string
	CredsFile string
	// NkeySeedFile holds the gateway's nkey seed: how gateways authenticate to the
	// cloud's NATS (the cloud keeps only the public key in its roster).
	NkeySeedFile string
	// InboxPrefix replaces "_INBOX" for replies to this connection's requests;
	// the cloud grants a gateway only link.GatewayInboxPrefix(its id).
	InboxPrefix string
	// ReconnectMin and ReconnectMax bound the reconnect backoff (defaults 250 ms and 10 s):
	// attempt n waits a random time in [d/2, d) with d = min(ReconnectMin·2ⁿ, ReconnectMax).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
}

// Dial connects to the cloud's NATS for the uplink. It returns at once even when
// the server is unreachable: the connection keeps retrying in the background
// (forever, with exponential backoff and jitter) and the uplink waits for it,
// while the outbox keeps filling. Publishes are not buffered by the client
// while disconnected (the outbox is the buffer), so they fail fast and the
// uplink resends after reconnecting.
func Dial(cfg NATSConfig, log *slog.Logger) (*nats.Conn, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: nats url is empty", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lo, hi := cfg.ReconnectMin, cfg.ReconnectMax
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 10 * time.Second
	}
	hi = max(hi, lo)
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := hi
			if attempts < 30 {
				d = min(lo<<attempts, hi)
			}
			return d/2 + rand.N(d/2+1)
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("nats connected", "url", nc.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Error("nats async error", "err", err) }),
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NkeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("%w: nkey seed: %v", ErrConfig, err)
		}
		opts = append(opts, o)
	}
	if cfg.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(cfg.InboxPrefix))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("uplink: nats connect: %w", err)
	}
	return nc, nil
}
