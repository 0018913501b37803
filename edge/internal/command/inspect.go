package command

import (
	"slices"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// OpenCommand describes a command that has no outcome yet (for the local UI).
type OpenCommand struct {
	ID       string
	Vehicle  protocol.VehicleID
	Code     protocol.Code
	Source   string
	State    string // "queued" (not published yet), "awaiting" (its reply), "backoff" (before a re-publish)
	Attempts int    // publishes so far
	Accepted time.Time
	Expires  time.Time // for "queued": when it expires unsent
}

// Open returns the open commands of v, queued ones first, each in order.
func (m *Manager) Open(v protocol.VehicleID) []OpenCommand {
	m.mu.Lock()
	defer m.mu.Unlock()
	veh := m.vehicles[v]
	if veh == nil {
		return nil
	}
	out := make([]OpenCommand, 0, len(veh.queue)+len(veh.awaiting))
	for _, e := range slices.Concat(veh.queue, veh.awaiting) {
		st := "awaiting"
		switch e.state {
		case stQueued:
			st = "queued"
		case stBackoff:
			st = "backoff"
		}
		out = append(out, OpenCommand{ID: e.id, Vehicle: v, Code: e.code, Source: e.source, State: st,
			Attempts: e.attempts, Accepted: e.accepted, Expires: e.expires})
	}
	return out
}

// Upgrades returns the running firmware jobs, ordered by vehicle.
func (m *Manager) Upgrades() []*Upgrade {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Upgrade
	for _, veh := range m.vehicles {
		if veh.job != nil {
			out = append(out, veh.job)
		}
	}
	slices.SortFunc(out, func(a, b *Upgrade) int { return strings.Compare(string(a.veh), string(b.veh)) })
	return out
}

// UpgradeOf returns v's running firmware job, if any.
func (m *Manager) UpgradeOf(v protocol.VehicleID) (*Upgrade, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if veh := m.vehicles[v]; veh != nil && veh.job != nil {
		return veh.job, true
	}
	return nil, false
}
