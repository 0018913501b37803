package fieldui

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/shared/zone"
)

// hub fans live marker changes out to the open event streams. One goroutine
// (runHub) computes the markers every LiveInterval, diffs them with the last
// round and sends only what changed; a new stream first gets the whole
// snapshot. mu guards every field. A stream that cannot keep up (its buffer
// is full) is closed: the browser's EventSource reconnects and starts again
// from a snapshot, so a slow phone never holds the others back.
type hub struct {
	mu     sync.Mutex
	last   map[string]marker
	order  []string
	subs   map[chan []byte]struct{}
	closed bool
}

func newHub() *hub {
	return &hub{last: map[string]marker{}, subs: map[chan []byte]struct{}{}}
}

type liveUpdate struct {
	Changed []marker `json:"changed"`
	Removed []string `json:"removed,omitempty"`
}

// subscribe registers a stream and returns the snapshot it starts from.
func (h *hub) subscribe() (chan []byte, []byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, false
	}
	snap := liveUpdate{Changed: make([]marker, 0, len(h.order))}
	for _, id := range h.order {
		snap.Changed = append(snap.Changed, h.last[id])
	}
	b, _ := json.Marshal(snap) // plain structs: cannot fail
	ch := make(chan []byte, 16)
	h.subs[ch] = struct{}{}
	return ch, b, true
}

func (h *hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// publish replaces the state with ms (sorted by id) and sends the difference.
func (h *hub) publish(ms []marker) {
	next := make(map[string]marker, len(ms))
	order := make([]string, 0, len(ms))
	var up liveUpdate
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range ms {
		m := &ms[i]
		next[m.ID] = *m
		order = append(order, m.ID)
		if old, ok := h.last[m.ID]; !ok || !old.equal(m) {
			up.Changed = append(up.Changed, *m)
		}
	}
	for id := range h.last {
		if _, ok := next[id]; !ok {
			up.Removed = append(up.Removed, id)
		}
	}
	h.last, h.order = next, order
	if len(up.Changed) == 0 && len(up.Removed) == 0 {
		return
	}
	b, _ := json.Marshal(up)
	for ch := range h.subs {
		select {
		case ch <- b:
		default: // too slow: drop it; it reconnects from a snapshot
			delete(h.subs, ch)
			close(ch)
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

func (s *Server) runHub(ctx context.Context) {
	t := time.NewTicker(s.cfg.LiveInterval)
	defer t.Stop()
	for {
		s.tick()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick computes every marker once and records new fixes for the history.
func (s *Server) tick() {
	now := s.clock.Now()
	vs := s.d.Fleet.List(nil)
	ms := make([]marker, 0, len(vs))
	for i := range vs {
		s.d.History.observePosition(&vs[i])
		ms = append(ms, s.classify(&vs[i], now))
	}
	s.hub.publish(ms)
}

// live streams marker updates as server-sent events: "snapshot" once, then
// "update" events; a comment every 15 s keeps proxies from closing it.
//
// The stream ends when its session does (logout, expiry, account disabled,
// removed or its password reset),
// checked at each keep-alive without counting as use: an open map on an
// unattended phone still idles out.
func (s *Server) live(w http.ResponseWriter, r *http.Request, x session) {
	ch, snap, ok := s.hub.subscribe()
	if !ok {
		s.problem(w, http.StatusServiceUnavailable, "shutting down", "")
		return
	}
	defer s.hub.unsubscribe(ch)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(event string, data []byte) bool {
		// The server's WriteTimeout suits JSON calls; a stream extends it per write.
		if err := rc.SetWriteDeadline(time.Now().Add(30 * time.Second)); err != nil {
			s.log.Debug("sse deadline", "err", err)
		}
		var b bytes.Buffer
		if event != "" {
			b.WriteString("event: " + event + "\n")
			b.WriteString("data: ")
			b.Write(data)
			b.WriteString("\n\n")
		} else {
			b.WriteString(": keep-alive\n\n")
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("snapshot", snap) {
		return
	}
	keep := time.NewTicker(s.keepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-ch:
			if !ok || !write("update", b) {
				return
			}
		case <-keep.C:
			if !s.sessions.alive(x.id, s.clock.Now()) || !s.d.Accounts.Valid(x.user) || !write("", nil) {
				return
			}
		}
	}
}

type zoneBody struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Kind string `json:"kind"`
	// Polygons are [lon, lat] rings (outer first, then holes) per polygon.
	Polygons [][][][2]float64 `json:"polygons"`
}

type zonesBody struct {
	Zones []zoneBody `json:"zones"`
}

// zones returns the applied zones; the encoding is cached per zone set.
func (s *Server) zones(w http.ResponseWriter, _ *http.Request, _ session) {
	set := s.d.Zones()
	s.zonesMu.Lock()
	if s.zonesBytes == nil || s.zonesFor != set {
		out := zonesBody{Zones: []zoneBody{}}
		if set != nil {
			for i := 0; i < set.Len(); i++ {
				z, err := set.Zone(i)
				if err != nil {
					continue
				}
				out.Zones = append(out.Zones, toZoneBody(&z))
			}
		}
		s.zonesBytes, _ = json.Marshal(out) // plain structs: cannot fail
		s.zonesFor = set
	}
	b := s.zonesBytes
	s.zonesMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b) // a failed write means the client left
}

func toZoneBody(z *zone.Zone) zoneBody {
	kind := z.Kind.String()
	if kind == "" {
		kind = "other"
	}
	b := zoneBody{ID: z.ID, Name: z.Name(""), Kind: kind}
	for _, poly := range z.Geometry {
		var rings [][][2]float64
		for _, ring := range poly {
			pts := make([][2]float64, len(ring))
			for i, p := range ring {
				pts[i] = [2]float64{p[0], p[1]}
			}
			rings = append(rings, pts)
		}
		b.Polygons = append(b.Polygons, rings)
	}
	return b
}
