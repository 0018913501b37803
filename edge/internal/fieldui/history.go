package fieldui

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/fleet"
)

// History keeps, per vehicle, the last positions and the last events (as the
// gateway stored them in the outbox) for the vehicle page. It is memory only,
// bounded per vehicle and in vehicles; mu guards everything.
type History struct {
	mu        sync.Mutex
	perVeh    int
	maxVeh    int
	events    map[string][]storedEvent
	positions map[string][]positionBody
}

type storedEvent struct {
	Time time.Time       `json:"time"`
	Kind string          `json:"kind"`
	Raw  json.RawMessage `json:"event"`
}

// NewHistory keeps perVehicle entries of each kind for at most maxVehicles vehicles.
func NewHistory(perVehicle, maxVehicles int) *History {
	return &History{perVeh: perVehicle, maxVeh: maxVehicles,
		events: map[string][]storedEvent{}, positions: map[string][]positionBody{}}
}

// ObserveEvent records one event stored in the outbox (a link.Event as JSON).
// Called on the ingest path: it only copies and appends under a short lock.
func (h *History) ObserveEvent(vehicle, kind string, t time.Time, payload []byte) {
	if h == nil || vehicle == "" || !json.Valid(payload) {
		return
	}
	e := storedEvent{Time: t.UTC(), Kind: kind, Raw: append(json.RawMessage(nil), payload...)}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.events[vehicle]
	if !ok && len(h.events) >= h.maxVeh {
		return
	}
	h.events[vehicle] = pushBounded(l, e, h.perVeh)
}

// observePosition records a fix if it is newer than the last one kept.
func (h *History) observePosition(v *fleet.Vehicle) {
	if !v.Known.Has(fleet.FieldPosition) {
		return
	}
	p := toPositionBody(v.Position)
	id := string(v.ID)
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.positions[id]
	if n := len(l); n > 0 && !p.Received.After(l[n-1].Received) {
		return
	}
	if !ok && len(h.positions) >= h.maxVeh {
		return
	}
	h.positions[id] = pushBounded(l, p, h.perVeh)
}

func pushBounded[T any](l []T, v T, limit int) []T {
	if len(l) >= limit {
		copy(l, l[1:])
		l = l[:len(l)-1]
	}
	return append(l, v)
}

// of returns copies, newest first.
func (h *History) of(id string) ([]storedEvent, []positionBody) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := reversed(h.events[id])
	pos := reversed(h.positions[id])
	return ev, pos
}

func reversed[T any](l []T) []T {
	out := make([]T, len(l))
	for i, v := range l {
		out[len(l)-1-i] = v
	}
	return out
}
