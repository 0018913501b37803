package natsbus

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/fleetedge/fleetedge/cloud/internal/gatewayauth"
)

// embedded is the in-process server and what its authentication needs to be reloaded.
type embedded struct {
	srv  *server.Server
	opts *server.Options // as first given to NewServer, before the server adjusted them
	auth AuthConfig

	// cloudKey is the cloud's own identity on an authenticated server: created at start,
	// held only in memory (no seed on disk), full rights. nil when the listener is open.
	cloudKey  nkeys.KeyPair
	cloudUser *server.NkeyUser

	mu     sync.Mutex // serialises reloads; guards roster
	roster gatewayauth.Roster
}

func (e *embedded) newCloudKey() error {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return fmt.Errorf("cloud nkey: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("cloud nkey: %w", err)
	}
	e.cloudKey = kp
	e.cloudUser = &server.NkeyUser{Nkey: pub} // no permissions = everything
	return nil
}

func (e *embedded) users(ro gatewayauth.Roster) []*server.NkeyUser {
	return append(ro.NkeyUsers(e.auth.ReplyTTL), e.cloudUser)
}

// Roster returns the gateways and services the embedded server currently accepts (empty
// when it runs without authentication or the bus is external).
func (b *Bus) Roster() gatewayauth.Roster {
	if b.emb == nil {
		return gatewayauth.Roster{}
	}
	b.emb.mu.Lock()
	defer b.emb.mu.Unlock()
	return b.emb.roster
}

// ReloadRoster re-reads the roster file and applies it to the running server: new gateways
// can connect at once, and connections of removed gateways are closed by the server. On any
// error the running roster stays as it was. Call it on SIGHUP or an admin request; safe for
// concurrent use.
func (b *Bus) ReloadRoster() error {
	if b.emb == nil || b.emb.cloudKey == nil {
		return fmt.Errorf("%w: reload roster: the bus has no roster file (external or unauthenticated)", ErrConfig)
	}
	e := b.emb
	ro, err := gatewayauth.Load(e.auth.RosterFile)
	if err != nil {
		return fmt.Errorf("reload roster: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	opts := e.opts.Clone()
	opts.Nkeys = e.users(ro)
	if err := e.srv.ReloadOptions(opts); err != nil {
		return fmt.Errorf("reload roster: %w", err)
	}
	e.roster = ro
	b.log.Info("nats roster reloaded", "gateways", len(ro.Gateways), "services", len(ro.Services))
	return nil
}
