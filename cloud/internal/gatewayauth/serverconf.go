package gatewayauth

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Account is the NATS account that holds FLEET_UP, the configuration buckets and every
// fleetedge user in a cluster's nats.conf.
const Account = "FLEET"

// WriteServerConfig writes the roster as a nats.conf fragment for a NATS cluster (include it
// from nats.conf): the FLEET account with JetStream enabled, every gateway as an nkey user
// with exactly the grants the embedded server gives it (GrantsFor), and every service as an
// unrestricted nkey user. The same roster file thus drives the embedded server and a cluster.
func WriteServerConfig(w io.Writer, ro Roster, replyTTL time.Duration) error {
	if err := ro.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	p := func(indent int, format string, args ...any) {
		fmt.Fprintf(bw, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, args...))
	}
	p(0, "# Generated from a gatewayauth roster (cloud/internal/gatewayauth): edit the roster, not this file.")
	p(0, "# Users authenticate with nkeys; only public keys appear here.")
	p(0, "accounts {")
	p(1, "%s {", Account)
	p(2, "jetstream: enabled")
	p(2, "users: [")
	for _, g := range ro.Gateways {
		gr := GrantsFor(g, replyTTL)
		p(3, "# gateway %s, city %s", g.ID, g.City)
		p(3, "{")
		p(4, "nkey: %s", g.NKey)
		p(4, "permissions: {")
		p(5, "publish: { allow: %s, deny: %s }", list(gr.PublishAllow), list(gr.PublishDeny))
		p(5, "subscribe: { allow: %s, deny: %s }", list(gr.SubscribeAllow), list(gr.SubscribeDeny))
		p(5, "allow_responses: { max: 1, expires: %q }", gr.ReplyTTL.String())
		p(4, "}")
		p(3, "}")
	}
	for _, s := range ro.Services {
		p(3, "# service %s: full rights", strings.ReplaceAll(s.Name, "\n", " "))
		p(3, "{ nkey: %s }", s.NKey)
	}
	p(2, "]")
	p(1, "}")
	p(0, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write nats server config: %w", err)
	}
	return nil
}

// list renders subjects as a nats.conf array of quoted strings: quoting keeps "$KV.>" a
// literal (unquoted $ starts a variable reference).
func list(subjects []string) string {
	q := make([]string, len(subjects))
	for i, s := range subjects {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
