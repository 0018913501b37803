package gateway

import (
	"fmt"

	"github.com/fleetedge/fleetedge/edge/internal/cloudlink"
	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
)

// prepareTechnicians is the apply path of the technicians' accounts pushed
// by the cloud (link.TechniciansDoc): converted to the field UI's accounts
// and checked as the stored copy is at start (fieldui.ParseAccounts reads
// the same bytes after a restart); the install swaps the account table
// atomically, and sessions of technicians removed or whose password changed
// end at their next request. The break-glass account from config stays.
func (g *Gateway) prepareTechnicians(u cloudlink.Update) (func(), error) {
	if u.Technicians == nil || g.accounts == nil {
		return nil, fmt.Errorf("gateway: technicians update without a document or field UI")
	}
	doc := fieldui.AccountsFromLink(u.Technicians)
	install, err := g.accounts.Prepare(doc)
	if err != nil {
		return nil, fmt.Errorf("gateway: technicians: %w", err)
	}
	n := len(doc.Accounts)
	return func() {
		install()
		g.log.Info("field UI accounts applied from the cloud", "version", u.Version, "count", n)
	}, nil
}
