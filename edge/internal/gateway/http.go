package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
)

// API bodies: the JSON shape of the local API, converted from fleet.Vehicle
// in one place (toVehicleBody), so the live-state type can change freely.

type positionBody struct {
	Lat      float64    `json:"lat"`
	Lon      float64    `json:"lon"`
	LBS      bool       `json:"lbs"`
	Alarm    bool       `json:"alarm"`
	FixTime  *time.Time `json:"fix_time,omitempty"`
	Received time.Time  `json:"received"`
}

type vehicleBody struct {
	ID         string        `json:"id"`
	Type       string        `json:"type,omitempty"`
	State      string        `json:"state"`
	StateSince time.Time     `json:"state_since"`
	LastSeen   *time.Time    `json:"last_seen,omitempty"`
	Position   *positionBody `json:"position,omitempty"`
	SpeedKmh   *float64      `json:"speed_kmh,omitempty"`
	LimitKmh   *int          `json:"speed_limit_kmh,omitempty"`
	NormalKmh  *int          `json:"normal_limit_kmh,omitempty"`
	BatteryPct *int          `json:"battery_pct,omitempty"`
	VoltageV   *float64      `json:"voltage_v,omitempty"`
	Powered    *bool         `json:"powered,omitempty"`
	Locked     *bool         `json:"locked,omitempty"`
	ChainOpen  *bool         `json:"chain_open,omitempty"`
	Paused     *bool         `json:"paused,omitempty"`
	Fallen     *bool         `json:"fallen,omitempty"`
	AtStation  *bool         `json:"at_station,omitempty"`
	Signal     *int          `json:"signal,omitempty"`
	ErrorCode  *int          `json:"error_code,omitempty"`
	ErrorText  string        `json:"error_text,omitempty"`
	Hardware   string        `json:"hardware,omitempty"`
	Firmware   string        `json:"firmware,omitempty"`
	IMEI       string        `json:"imei,omitempty"`
	Messages   uint64        `json:"messages"`
	// Rules and Commands are filled by GET /api/v1/vehicles/{id} only.
	Rules    *rulesBody    `json:"rules,omitempty"`
	Commands []commandBody `json:"open_commands,omitempty"`
}

type rulesBody struct {
	Riding     bool     `json:"riding"`
	NoRide     bool     `json:"no_ride"`
	NoRideZone string   `json:"no_ride_zone,omitempty"`
	LimitKmh   *int     `json:"limit_kmh,omitempty"` // last limit sent (or assumed)
	FinalKmh   int      `json:"final_limit_kmh"`
	Ramping    bool     `json:"ramping"`
	Zones      []string `json:"zones"`
	Pending    bool     `json:"pending"`
}

type commandBody struct {
	ID       string    `json:"id"`
	Code     int       `json:"code"`
	Source   string    `json:"source,omitempty"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts"`
	Accepted time.Time `json:"accepted"`
	Expires  time.Time `json:"expires,omitzero"`
}

func ptr[T any](known bool, v T) *T {
	if !known {
		return nil
	}
	return &v
}

func (g *Gateway) toVehicleBody(v *fleet.Vehicle) vehicleBody {
	k := v.Known
	b := vehicleBody{
		ID: string(v.ID), State: v.State.String(), StateSince: v.StateSince.UTC(),
		LastSeen:   ptr(!v.LastSeen.IsZero(), v.LastSeen.UTC()),
		SpeedKmh:   ptr(k.Has(fleet.FieldSpeed), v.SpeedKmh),
		LimitKmh:   ptr(k.Has(fleet.FieldSpeedLimit), v.SpeedLimitKmh),
		BatteryPct: ptr(k.Has(fleet.FieldBattery), v.BatteryPct),
		VoltageV:   ptr(k.Has(fleet.FieldVoltage), v.VoltageV),
		Powered:    ptr(k.Has(fleet.FieldPower), v.Powered),
		Locked:     ptr(k.Has(fleet.FieldLock), v.Locked),
		ChainOpen:  ptr(k.Has(fleet.FieldChainLock), v.ChainOpen),
		Paused:     ptr(k.Has(fleet.FieldPause), v.Paused),
		Fallen:     ptr(k.Has(fleet.FieldPosture), v.Fallen),
		AtStation:  ptr(k.Has(fleet.FieldStation), v.AtStation),
		Signal:     ptr(k.Has(fleet.FieldSignal), v.Signal),
		ErrorCode:  ptr(k.Has(fleet.FieldError), v.ErrorCode),
		Hardware:   v.Hardware, Firmware: v.Firmware, IMEI: v.IMEI, Messages: v.Messages,
	}
	if k.Has(fleet.FieldError) {
		b.ErrorText = v.ErrorText()
	}
	if k.Has(fleet.FieldPosition) {
		p := v.Position
		b.Position = &positionBody{Lat: p.Lat, Lon: p.Lon, LBS: p.LBS, Alarm: p.Alarm,
			FixTime: ptr(!p.FixTime.IsZero(), p.FixTime.UTC()), Received: p.Received.UTC()}
	}
	if c, ok := g.vehicles.Vehicle(string(v.ID)); ok {
		b.Type = c.Type
		b.NormalKmh = ptr(c.NormalLimitKmh > 0, c.NormalLimitKmh)
	}
	return b
}

type vehicleList struct {
	Count    int           `json:"count"`
	Vehicles []vehicleBody `json:"vehicles"`
}

type statusBody struct {
	City      string         `json:"city"`
	GatewayID string         `json:"gateway_id"`
	Vehicles  map[string]int `json:"vehicles"`
	Zones     int            `json:"zones"`
	Outbox    outboxBody     `json:"outbox"`
}

type outboxBody struct {
	Records   uint64  `json:"records"`
	Bytes     uint64  `json:"bytes"`
	LastSeq   uint64  `json:"last_seq"`
	OldestAge float64 `json:"oldest_age_seconds"`
	OverBound bool    `json:"over_bound"`
}

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// routes mounts the local JSON API:
//
//	GET /api/v1/vehicles[?state=online|offline|lost][&powered=true|false][&limit=N]
//	GET /api/v1/vehicles/{id}         (with rule state and open commands)
//	GET /api/v1/status
func (g *Gateway) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/vehicles", g.listVehicles)
	mux.HandleFunc("GET /api/v1/vehicles/{id}", g.getVehicle)
	mux.HandleFunc("GET /api/v1/status", g.status)
}

func (g *Gateway) listVehicles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var (
		state    fleet.State
		hasState bool
		powered  bool
		hasPow   bool
		limit    = -1
	)
	if s := q.Get("state"); s != "" {
		st, err := fleet.ParseState(s)
		if err != nil {
			g.writeProblem(w, http.StatusBadRequest, "bad state filter", err.Error())
			return
		}
		state, hasState = st, true
	}
	if s := q.Get("powered"); s != "" {
		p, err := strconv.ParseBool(s)
		if err != nil {
			g.writeProblem(w, http.StatusBadRequest, "bad powered filter", "want true or false")
			return
		}
		powered, hasPow = p, true
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			g.writeProblem(w, http.StatusBadRequest, "bad limit", "want a non-negative integer")
			return
		}
		limit = n
	}
	vs := g.fleet.List(func(v *fleet.Vehicle) bool {
		return (!hasState || v.State == state) && (!hasPow || (v.Known.Has(fleet.FieldPower) && v.Powered == powered))
	})
	out := vehicleList{Count: len(vs), Vehicles: make([]vehicleBody, 0, len(vs))}
	for i := range vs {
		if limit >= 0 && i >= limit {
			break
		}
		out.Vehicles = append(out.Vehicles, g.toVehicleBody(&vs[i]))
	}
	g.writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) getVehicle(w http.ResponseWriter, r *http.Request) {
	id, err := protocol.ParseVehicleID(r.PathValue("id"))
	if err != nil {
		g.writeProblem(w, http.StatusBadRequest, "bad vehicle number", err.Error())
		return
	}
	v, ok := g.fleet.Get(id)
	if !ok {
		g.writeProblem(w, http.StatusNotFound, "unknown vehicle", "")
		return
	}
	b := g.toVehicleBody(&v)
	if rs, ok := g.rules.State(id); ok {
		b.Rules = &rulesBody{Riding: rs.Riding, NoRide: rs.NoRide, NoRideZone: rs.NoRideZone,
			LimitKmh: ptr(rs.LimitKnown, rs.LimitKmh), FinalKmh: rs.FinalLimitKmh, Ramping: rs.Ramping,
			Zones: rs.Zones, Pending: rs.Pending}
	}
	for _, c := range g.commands.Open(id) {
		b.Commands = append(b.Commands, commandBody{ID: c.ID, Code: int(c.Code), Source: c.Source, State: c.State,
			Attempts: c.Attempts, Accepted: c.Accepted.UTC(), Expires: c.Expires.UTC()})
	}
	g.writeJSON(w, http.StatusOK, b)
}

func (g *Gateway) status(w http.ResponseWriter, _ *http.Request) {
	st := g.outbox.Stats()
	b := statusBody{City: g.cfg.City, GatewayID: g.cfg.GatewayID, Vehicles: map[string]int{"configured": g.vehicles.Len()},
		Outbox: outboxBody{Records: st.Records, Bytes: st.Bytes, LastSeq: st.LastSeq, OldestAge: st.OldestAge.Seconds(), OverBound: st.OverBound}}
	for _, s := range []fleet.State{fleet.StateOnline, fleet.StateOffline, fleet.StateLost} {
		b.Vehicles[s.String()] = g.fleet.Count(s)
	}
	if z := g.zones.Load(); z != nil {
		b.Zones = z.Len()
	}
	g.writeJSON(w, http.StatusOK, b)
}

func (g *Gateway) writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(problem{Title: title, Status: status, Detail: detail}); err != nil {
		g.log.Debug("write problem", "err", err)
	}
}

func (g *Gateway) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		g.log.Debug("write response", "err", err)
	}
}
