package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// ErrSecondAuthority reports an attempt to register a hook that would share
// authentication or ACL decisions with the AuthHook (mochi: any hook allows).
var ErrSecondAuthority = errors.New("broker: a second hook providing authentication or ACL")

// Config selects the listeners. An empty address disables that listener; at least
// one must be set. ":0" picks a free port (tests); the real address is in Addrs.
type Config struct {
	TCPAddr string // plain MQTT, e.g. ":1883"
	TLSAddr string // MQTT over TLS, e.g. ":8883"; needs TLS
	TLS     *tls.Config
	WSAddr  string // MQTT over WebSocket, e.g. ":8083"

	// Buffer sizes per client connection; small values keep memory flat with
	// tens of thousands of scooters whose messages are ~100 bytes.
	ReadBufferSize  int
	WriteBufferSize int
}

// Server is the embedded mochi broker with fleetedge's hooks and listeners.
type Server struct {
	MQTT *mqtt.Server
	Auth *AuthHook
	// Addrs maps listener id ("tcp", "tls", "ws") to its bound address.
	Addrs map[string]string
}

// NewServer builds a broker whose only authority is auth, with the other hooks
// (ingest, metrics, …) after it. Listeners are bound here, so ports are known and
// errors surface before Serve.
func NewServer(cfg Config, log *slog.Logger, auth *AuthHook, hooks ...mqtt.Hook) (*Server, error) {
	if cfg.TCPAddr == "" && cfg.TLSAddr == "" && cfg.WSAddr == "" {
		return nil, errors.New("broker: no listener configured")
	}
	if cfg.TLSAddr != "" && cfg.TLS == nil {
		return nil, errors.New("broker: TLS listener without certificate")
	}
	if cfg.ReadBufferSize == 0 {
		cfg.ReadBufferSize = 1024
	}
	if cfg.WriteBufferSize == 0 {
		cfg.WriteBufferSize = 1024
	}
	ms := mqtt.New(&mqtt.Options{
		InlineClient:             true, // commands are published by the gateway itself
		Logger:                   log,
		ClientNetReadBufferSize:  cfg.ReadBufferSize,
		ClientNetWriteBufferSize: cfg.WriteBufferSize,
	})
	// Scooters never need retained messages; a retained command would be replayed
	// to a scooter on every reconnect.
	ms.Options.Capabilities.RetainAvailable = 0
	// mochi allocates each client's outbound queue at this capacity on CONNECT
	// (default 8192 slots, ~64 KiB per client: 1 GiB of the 2.1 GB RSS measured at
	// 15,000 scooters). A scooter receives a few commands and PUBACKs at a time.
	ms.Options.Capabilities.MaximumClientWritesPending = 64
	s := &Server{MQTT: ms, Auth: auth, Addrs: map[string]string{}}
	if err := ms.AddHook(auth, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	for _, h := range hooks {
		if h.Provides(mqtt.OnConnectAuthenticate) || h.Provides(mqtt.OnACLCheck) {
			return nil, fmt.Errorf("%w: %s", ErrSecondAuthority, h.ID())
		}
		if err := ms.AddHook(h, nil); err != nil {
			return nil, fmt.Errorf("broker: add hook %s: %w", h.ID(), err)
		}
	}
	if err := s.listen(cfg); err != nil {
		_ = ms.Close() // nothing served yet; the listen error is the one to report
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(cfg Config) error {
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			return fmt.Errorf("broker: listen tcp %s: %w", cfg.TCPAddr, err)
		}
		if err := s.add("tcp", ln); err != nil {
			return err
		}
	}
	if cfg.TLSAddr != "" {
		ln, err := net.Listen("tcp", cfg.TLSAddr)
		if err != nil {
			return fmt.Errorf("broker: listen tls %s: %w", cfg.TLSAddr, err)
		}
		if err := s.add("tls", tls.NewListener(ln, cfg.TLS)); err != nil {
			return err
		}
	}
	if cfg.WSAddr != "" {
		addr, err := resolveFree(cfg.WSAddr)
		if err != nil {
			return err
		}
		ws := listeners.NewWebsocket(listeners.Config{ID: "ws", Address: addr})
		if err := s.MQTT.AddListener(ws); err != nil {
			return fmt.Errorf("broker: websocket listener: %w", err)
		}
		s.Addrs["ws"] = addr
	}
	return nil
}

func (s *Server) add(id string, ln net.Listener) error {
	if err := s.MQTT.AddListener(listeners.NewNet(id, ln)); err != nil {
		return errors.Join(fmt.Errorf("broker: %s listener: %w", id, err), ln.Close())
	}
	s.Addrs[id] = ln.Addr().String()
	return nil
}

// resolveFree turns "host:0" into a concrete free port: mochi's WebSocket listener
// binds inside Serve and does not report the port it got.
func resolveFree(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("broker: websocket address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("broker: websocket address %q: %w", addr, err)
	}
	free := ln.Addr().String()
	return free, ln.Close()
}

// Serve starts accepting connections; it returns at once.
func (s *Server) Serve() error { return s.MQTT.Serve() }

// Close disconnects every client and stops the listeners.
func (s *Server) Close() error { return s.MQTT.Close() }

// Publish sends payload to a vehicle's topic from the gateway's inline client.
func (s *Server) Publish(topic string, payload []byte, qos byte) error {
	return s.MQTT.Publish(topic, payload, false, qos)
}
