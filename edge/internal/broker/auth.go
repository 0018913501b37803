package broker

import (
	"bytes"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// Topics a scooter publishes to besides its own vehicle topic (PROTOCOL.md).
const (
	TopicBike = "bike"
	TopicO    = "o"
)

// Credentials looks up the stored credential of a vehicle. It is called on every
// CONNECT, from many goroutines at once, and must not block on I/O.
type Credentials interface {
	Credential(vehicle string) (devicecred.Digest, bool)
}

// AuthStats counts the auth hook's decisions; read with atomic loads.
type AuthStats struct {
	Accepted     atomic.Uint64
	Rejected     atomic.Uint64 // bad or unknown credentials
	ACLDenied    atomic.Uint64 // publish or subscribe outside the vehicle's topics
	AnonRejected atomic.Uint64 // no username or a username that is not the client id
}

// AuthHook is the gateway's single authoritative authentication and ACL hook.
//
// mochi allows an action when ANY hook providing OnConnectAuthenticate/OnACLCheck
// allows it, so a second permissive hook would silently disable every rule here.
// The gateway therefore registers no other hook that provides either event
// (Server in this package enforces that), and this hook is deny-by-default:
//
//   - a client authenticates as a vehicle: client id == username == vehicle number,
//     password == the vehicle's device secret (hashed, constant-time compare);
//   - it may publish only to "bike", "o" and its own vehicle topic;
//   - it may subscribe only to its own vehicle topic, exactly (no wildcards).
//
// The server's inline client (commands to scooters) bypasses ACLs inside mochi.
type AuthHook struct {
	mqtt.HookBase
	creds Credentials
	Stats AuthStats
}

// NewAuthHook returns the hook; creds is consulted on every CONNECT.
func NewAuthHook(creds Credentials) *AuthHook {
	return &AuthHook{creds: creds}
}

// ID identifies the hook to mochi.
func (h *AuthHook) ID() string { return "fleetedge-auth" }

// Provides declares the two events this hook is authoritative for.
func (h *AuthHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate admits a scooter whose username is its client id and whose
// password is its device secret.
func (h *AuthHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := pk.Connect.Username
	if len(user) == 0 || !bytes.Equal(user, []byte(cl.ID)) {
		h.Stats.AnonRejected.Add(1)
		return false
	}
	d, ok := h.creds.Credential(cl.ID)
	if !ok || !d.Matches(pk.Connect.Password) {
		h.Stats.Rejected.Add(1)
		return false
	}
	h.Stats.Accepted.Add(1)
	return true
}

// OnACLCheck allows publishing to bike, o and the own topic, and subscribing to
// the own topic only.
func (h *AuthHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	ok := topic == cl.ID || write && (topic == TopicBike || topic == TopicO)
	if !ok {
		h.Stats.ACLDenied.Add(1)
	}
	return ok
}
