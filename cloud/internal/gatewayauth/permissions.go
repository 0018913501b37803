package gatewayauth

import (
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// DefaultReplyTTL is how long a gateway may answer a command request after receiving it. It
// exceeds the longest command wait a request may ask for (link.CommandRequest.TimeoutMs is at
// most 600 s), so a slow scooter's answer still reaches a cloud that is still waiting.
const DefaultReplyTTL = 11 * time.Minute

// InboxPrefix is the reply-subject namespace of gateway g. A gateway client must connect with
// nats.CustomInboxPrefix(InboxPrefix(g)): its permissions let it subscribe only there. The
// "gw-" token cannot be a NUID (NUIDs have no '-'), so it never collides with the
// _INBOX.<nuid> inboxes of clients using the default prefix.
func InboxPrefix(g link.GatewayID) string { return link.GatewayInboxPrefix(g) }

// Grants are the subjects one gateway may publish and subscribe to, plus what it is denied
// even if a later allow would match (kept explicit so the intent survives edits).
type Grants struct {
	PublishAllow   []string
	PublishDeny    []string
	SubscribeAllow []string
	SubscribeDeny  []string
	// ReplyTTL bounds answers to received requests (response permissions, one reply each).
	ReplyTTL time.Duration
}

// GrantsFor returns gateway g's grants. replyTTL <= 0 means DefaultReplyTTL.
func GrantsFor(g Gateway, replyTTL time.Duration) Grants {
	if replyTTL <= 0 {
		replyTTL = DefaultReplyTTL
	}
	kvStream := "KV_" + link.ConfigBucket(g.City) // nats.go names a bucket's stream KV_<bucket>
	return Grants{
		PublishAllow: []string{
			// Telemetry and events of its own city (publish acks come back on its inbox).
			"fleet.up." + string(g.City) + ".>",
			// Reading its configuration bucket: bind (stream info), watch (an ordered push
			// consumer: create, flow-control replies, delete when the watch stops or resets),
			// get (direct get, or message get when direct get is off).
			"$JS.API.STREAM.INFO." + kvStream,
			"$JS.API.CONSUMER.CREATE." + kvStream,
			"$JS.API.CONSUMER.CREATE." + kvStream + ".>",
			"$JS.API.CONSUMER.INFO." + kvStream + ".>",
			"$JS.API.CONSUMER.DELETE." + kvStream + ".>",
			"$JS.API.DIRECT.GET." + kvStream,
			"$JS.API.DIRECT.GET." + kvStream + ".>",
			"$JS.API.STREAM.MSG.GET." + kvStream,
			"$JS.FC." + kvStream + ".>",
		},
		// A KV put is a plain publish to $KV.<bucket>.<key>: denying $KV.> keeps every
		// bucket, its own included, read-only to gateways.
		PublishDeny: []string{"$KV.>"},
		SubscribeAllow: []string{
			link.CommandSubject(g.City),
			InboxPrefix(g.ID) + ".>",
		},
		// Reading $KV subjects directly would see every put of every city as it happens.
		SubscribeDeny: []string{"$KV.>"},
		ReplyTTL:      replyTTL,
	}
}

// Permissions converts the grants to nats-server's form.
func (gr Grants) Permissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: clone(gr.PublishAllow), Deny: clone(gr.PublishDeny)},
		Subscribe: &server.SubjectPermission{Allow: clone(gr.SubscribeAllow), Deny: clone(gr.SubscribeDeny)},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: gr.ReplyTTL},
	}
}

func clone(s []string) []string { return append([]string(nil), s...) }

// NkeyUsers returns the server's users for the roster: gateways with their grants, services
// without restrictions. Every user lands in the server's global account (the one with the
// FLEET_UP stream and the configuration buckets).
func (ro Roster) NkeyUsers(replyTTL time.Duration) []*server.NkeyUser {
	users := make([]*server.NkeyUser, 0, len(ro.Gateways)+len(ro.Services))
	for _, g := range ro.Gateways {
		users = append(users, &server.NkeyUser{Nkey: g.NKey, Permissions: GrantsFor(g, replyTTL).Permissions()})
	}
	for _, s := range ro.Services {
		users = append(users, &server.NkeyUser{Nkey: s.NKey})
	}
	return users
}
