package natsbus

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("invalid nats configuration")

// Config selects embedded or external NATS and the stream limits.
type Config struct {
	// URL of an external NATS (comma-separated for a cluster). Empty runs the embedded server.
	URL string
	// ClientTLS is used when connecting to URL.
	ClientTLS ClientTLS
	// NkeySeedFile, when set, authenticates the connection to URL with that nkey seed (the
	// cloud's service identity in the cluster's nats.conf, see deploy/nats).
	NkeySeedFile string
	// ConnectTimeout bounds startup: the embedded server becoming ready, the first connection,
	// and creating/updating the stream.
	ConnectTimeout time.Duration
	// Embedded configures the in-process server; ignored when URL is set.
	Embedded EmbeddedConfig
	// Stream holds the limits of the up stream.
	Stream StreamConfig
}

// EmbeddedConfig configures the in-process nats-server.
type EmbeddedConfig struct {
	// Host the client listener binds (127.0.0.1 by default; gateways on other machines need
	// an externally reachable address, then TLS should be on).
	Host string
	// Port of the client listener; 0 or -1 picks a random free port (tests).
	Port int
	// StoreDir is the JetStream store directory (created when missing).
	StoreDir string
	// ServerName names this server in logs and JetStream metadata; keep it stable across restarts.
	ServerName string
	// MaxStore caps the bytes JetStream may use on disk for all streams; 0 = nats default (a
	// share of the free disk space).
	MaxStore int64
	// FsyncInterval 0 (default) fsyncs after every write. A positive value fsyncs in the
	// background at that interval: faster, but a power loss can lose acknowledged messages.
	FsyncInterval time.Duration
	// TLS for the client listener; off when CertFile is empty.
	TLS ServerTLS
	// Auth: who may use the client listener.
	Auth AuthConfig
}

// AuthConfig configures authentication on the embedded client listener.
type AuthConfig struct {
	// RosterFile is a gatewayauth roster (JSON: gateways with id, city, public nkey; services
	// with full rights). When set, every TCP client must sign in with one of its nkeys and a
	// gateway gets only its city's subjects. When empty, the listener accepts anyone and is
	// therefore allowed only on a loopback host (one machine, development).
	RosterFile string
	// ReplyTTL bounds how long after receiving a command request a gateway may answer it
	// (0 = gatewayauth.DefaultReplyTTL).
	ReplyTTL time.Duration
}

// ServerTLS configures TLS on the embedded client listener.
type ServerTLS struct {
	CertFile string
	KeyFile  string
	// ClientCAFile, when set, requires and verifies client certificates signed by it (mTLS).
	ClientCAFile string
}

// ClientTLS configures TLS towards an external NATS.
type ClientTLS struct {
	// CAFile verifies the server certificate (system roots when empty).
	CAFile string
	// CertFile and KeyFile present a client certificate (mTLS); both or neither.
	CertFile string
	KeyFile  string
}

// StreamConfig holds the limits of the up stream.
type StreamConfig struct {
	// DuplicateWindow is how long a Nats-Msg-Id is remembered; resends inside it are dropped
	// by the server. Memory grows with messages per window (one id each).
	DuplicateWindow time.Duration
	// MaxAge is how long messages are kept whether consumed or not (0 = forever); the replay
	// horizon if ingest is down or a consumer must be rebuilt.
	MaxAge time.Duration
	// MaxBytes caps the stream on disk (-1 = unlimited). When full, new publishes are refused.
	MaxBytes int64
	// MaxMsgSize caps one message (-1 = server max_payload). The embedded server's max_payload
	// follows it. 8 MiB by default: a city's vehicles document takes ~150 bytes per vehicle
	// (1 MiB holds ~7,000 vehicles, 8 MiB ~55,000).
	MaxMsgSize int32
	// Replicas is 1 for the embedded server; 3 in a NATS cluster.
	Replicas int
}

// DefaultStreamConfig: 5 min duplicate window (covers reconnect resends; later ones are
// caught by the consumer's (gateway, seq) check), 7 days retention, 10 GiB, 8 MiB messages.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{
		DuplicateWindow: 5 * time.Minute,
		MaxAge:          7 * 24 * time.Hour,
		MaxBytes:        10 << 30,
		MaxMsgSize:      8 << 20,
		Replicas:        1,
	}
}

// Validate reports configuration errors, all of them, wrapped in ErrConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.ConnectTimeout <= 0 {
		bad("connect timeout %v must be > 0", c.ConnectTimeout)
	}
	if c.URL != "" {
		for _, u := range strings.Split(c.URL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" || (pu.Scheme != "nats" && pu.Scheme != "tls") {
				bad("url %q: want nats://host:port or tls://host:port", Redact(u))
			}
		}
		if (c.ClientTLS.CertFile == "") != (c.ClientTLS.KeyFile == "") {
			bad("client tls: cert file and key file go together")
		}
	} else {
		e := c.Embedded
		if e.Port < -1 || e.Port > math.MaxUint16 {
			bad("port %d out of range (0 or -1 = random)", e.Port)
		}
		if e.StoreDir == "" {
			bad("store dir is empty")
		}
		if e.FsyncInterval < 0 {
			bad("fsync interval %v must be >= 0 (0 = every write)", e.FsyncInterval)
		}
		if e.MaxStore < 0 {
			bad("max store %d must be >= 0 (0 = nats default)", e.MaxStore)
		}
		if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
			bad("server tls: cert file and key file go together")
		}
		if e.TLS.ClientCAFile != "" && e.TLS.CertFile == "" {
			bad("server tls: client CA without a server certificate")
		}
		if e.Auth.RosterFile == "" && !isLoopbackHost(e.Host) {
			bad("client listener on host %q without authentication: set a gateways roster file, or bind 127.0.0.1", e.Host)
		}
		if e.Auth.ReplyTTL < 0 {
			bad("reply ttl %v must be >= 0", e.Auth.ReplyTTL)
		}
		if c.NkeySeedFile != "" {
			bad("nkey seed file is for an external url; the embedded server's own connection needs none")
		}
		if c.Stream.Replicas != 1 {
			bad("stream replicas %d: the embedded server is a single node, use 1", c.Stream.Replicas)
		}
	}
	s := c.Stream
	if s.DuplicateWindow <= 0 {
		bad("stream duplicate window %v must be > 0", s.DuplicateWindow)
	}
	if s.MaxAge < 0 {
		bad("stream max age %v must be >= 0 (0 = forever)", s.MaxAge)
	}
	if s.MaxAge > 0 && s.DuplicateWindow > s.MaxAge {
		bad("stream duplicate window %v exceeds max age %v", s.DuplicateWindow, s.MaxAge)
	}
	if s.MaxBytes == 0 || s.MaxBytes < -1 {
		bad("stream max bytes %d must be > 0 or -1 (unlimited)", s.MaxBytes)
	}
	if s.MaxMsgSize == 0 || s.MaxMsgSize < -1 || s.MaxMsgSize > 64<<20 {
		bad("stream max msg size %d must be 1..64 MiB or -1 (server limit)", s.MaxMsgSize)
	}
	if s.Replicas < 1 || s.Replicas > 5 {
		bad("stream replicas %d must be 1..5", s.Replicas)
	}
	return errors.Join(errs...)
}

// isLoopbackHost: an empty host means every interface to nats-server.
func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Redact hides the password or token in a NATS URL list so it can be logged.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			// Unparsable: keep only what cannot be a credential.
			if at := strings.LastIndex(p, "@"); at >= 0 {
				parts[i] = "xxxxx" + p[at:]
			}
			continue
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a bare token
			}
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
