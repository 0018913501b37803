package sim

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
)

// errLinkDropped is what a dropped connection's reads and writes return.
var errLinkDropped = errors.New("sim: link dropped (injected)")

// dropConn is a net.Conn that can be broken abruptly. Closing a socket
// locally is not enough: paho treats "use of closed network connection" on
// read as a deliberate close and never reports the connection lost, so a
// dropped link returns errLinkDropped instead, like a cellular link that died.
type dropConn struct {
	net.Conn
	dropped atomic.Bool
}

func (c *dropConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.dropped.Load() {
		return n, errLinkDropped
	}
	return n, err
}

func (c *dropConn) Write(b []byte) (int, error) {
	if c.dropped.Load() {
		return 0, errLinkDropped
	}
	n, err := c.Conn.Write(b)
	if err != nil && c.dropped.Load() {
		return n, errLinkDropped
	}
	return n, err
}

// drop breaks the link: no DISCONNECT is sent, the broker sees the TCP
// connection close, the client sees an I/O error.
func (c *dropConn) drop() {
	c.dropped.Store(true)
	raw := c.Conn
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn() // no close_notify: the link just dies
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort: reset rather than a graceful FIN
	}
	_ = raw.Close() // the error is irrelevant: the link is meant to die
}
