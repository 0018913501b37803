package fieldui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Categories of a marker, by priority (the first that applies).
const (
	CatLost       = "lost"
	CatOffline    = "offline"
	CatFallen     = "fallen"
	CatError      = "error"
	CatLowBattery = "low_battery"
	CatOnRide     = "on_ride"
	CatAvailable  = "available"
)

// marker is a vehicle as the map and the lists show it.
type marker struct {
	ID      string   `json:"id"`
	Lat     *float64 `json:"lat,omitempty"`
	Lon     *float64 `json:"lon,omitempty"`
	LBS     bool     `json:"lbs,omitempty"`
	Cat     string   `json:"cat"`
	Battery *int     `json:"bat,omitempty"`
	// Attention lists why a technician should look (empty: nothing).
	Attention []string `json:"att,omitempty"`
	ErrorText string   `json:"err,omitempty"`
}

func (m *marker) equal(o *marker) bool {
	return m.ID == o.ID && eqPtr(m.Lat, o.Lat) && eqPtr(m.Lon, o.Lon) && m.LBS == o.LBS && m.Cat == o.Cat &&
		eqPtr(m.Battery, o.Battery) && slices.Equal(m.Attention, o.Attention) && m.ErrorText == o.ErrorText
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// classify turns live state into the marker: category and attention reasons
// (low battery, fallen, vibration alarm, controller error in words, lost).
func (s *Server) classify(v *fleet.Vehicle, now time.Time) marker {
	m := marker{ID: string(v.ID)}
	k := v.Known
	if k.Has(fleet.FieldPosition) {
		lat, lon := v.Position.Lat, v.Position.Lon
		m.Lat, m.Lon, m.LBS = &lat, &lon, v.Position.LBS
	}
	lowBat := false
	if k.Has(fleet.FieldBattery) {
		b := v.BatteryPct
		m.Battery = &b
		lowBat = b < s.cfg.LowBatteryPct
	}
	fallen := k.Has(fleet.FieldPosture) && v.Fallen
	hasErr := k.Has(fleet.FieldError) && v.ErrorCode != 0
	if v.State == fleet.StateLost {
		m.Attention = append(m.Attention, "lost")
	}
	if fallen {
		m.Attention = append(m.Attention, "fallen")
	}
	if !v.LastVibration.IsZero() && now.Sub(v.LastVibration) < s.cfg.VibrationWindow {
		m.Attention = append(m.Attention, "vibration")
	}
	if hasErr {
		m.Attention = append(m.Attention, "error")
		m.ErrorText = v.ErrorText()
	}
	if lowBat {
		m.Attention = append(m.Attention, "low_battery")
	}
	switch {
	case v.State == fleet.StateLost:
		m.Cat = CatLost
	case v.State == fleet.StateOffline:
		m.Cat = CatOffline
	case fallen:
		m.Cat = CatFallen
	case hasErr:
		m.Cat = CatError
	case lowBat:
		m.Cat = CatLowBattery
	case k.Has(fleet.FieldPower) && v.Powered:
		m.Cat = CatOnRide
	default:
		m.Cat = CatAvailable
	}
	return m
}

type markerList struct {
	Count    int      `json:"count"`
	Vehicles []marker `json:"vehicles"`
}

// vehicles lists markers; q filters by a substring of the vehicle number
// (case-insensitive), attention=1 keeps those needing attention.
func (s *Server) vehicles(w http.ResponseWriter, r *http.Request, _ session) {
	q := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("q")))
	att := r.URL.Query().Get("attention") == "1"
	now := s.clock.Now()
	out := markerList{Vehicles: []marker{}}
	for _, v := range s.d.Fleet.List(func(v *fleet.Vehicle) bool {
		return q == "" || strings.Contains(strings.ToUpper(string(v.ID)), q)
	}) {
		m := s.classify(&v, now)
		if att && len(m.Attention) == 0 {
			continue
		}
		out.Vehicles = append(out.Vehicles, m)
	}
	out.Count = len(out.Vehicles)
	s.json(w, http.StatusOK, out)
}

type positionBody struct {
	Lat      float64    `json:"lat"`
	Lon      float64    `json:"lon"`
	LBS      bool       `json:"lbs"`
	Alarm    bool       `json:"alarm"`
	FixTime  *time.Time `json:"fix_time,omitempty"`
	Received time.Time  `json:"received"`
}

func toPositionBody(p fleet.Position) positionBody {
	b := positionBody{Lat: p.Lat, Lon: p.Lon, LBS: p.LBS, Alarm: p.Alarm, Received: p.Received.UTC()}
	if !p.FixTime.IsZero() {
		t := p.FixTime.UTC()
		b.FixTime = &t
	}
	return b
}

type vehicleDetail struct {
	marker
	State      string         `json:"state"`
	StateSince time.Time      `json:"state_since"`
	LastSeen   *time.Time     `json:"last_seen,omitempty"`
	Speed      *float64       `json:"speed_kmh,omitempty"`
	Limit      *int           `json:"speed_limit_kmh,omitempty"`
	Voltage    *float64       `json:"voltage_v,omitempty"`
	Powered    *bool          `json:"powered,omitempty"`
	Locked     *bool          `json:"motor_locked,omitempty"`
	ChainOpen  *bool          `json:"chain_open,omitempty"`
	Fallen     *bool          `json:"fallen,omitempty"`
	AtStation  *bool          `json:"at_station,omitempty"`
	Signal     *int           `json:"signal,omitempty"`
	ErrorCode  *int           `json:"error_code,omitempty"`
	Hardware   string         `json:"hardware,omitempty"`
	Firmware   string         `json:"firmware,omitempty"`
	IMEI       string         `json:"imei,omitempty"`
	Vibration  *time.Time     `json:"last_vibration,omitempty"`
	Positions  []positionBody `json:"positions"`
	Events     []storedEvent  `json:"events"`
	Open       []openBody     `json:"open_commands"`
	Upgrade    *upgradeBody   `json:"upgrade,omitempty"`
	Actions    []actionBody   `json:"actions"`
}

type openBody struct {
	Code     int       `json:"code"`
	Source   string    `json:"source,omitempty"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts"`
	Accepted time.Time `json:"accepted"`
}

type upgradeBody struct {
	JobID    string `json:"job_id"`
	State    string `json:"state"`
	Sent     int    `json:"sent"`
	Total    int    `json:"total"`
	Failures int    `json:"failures"`
	Restarts int    `json:"restarts"`
	Error    string `json:"error,omitempty"`
}

type actionBody struct {
	Action string `json:"action"`
	Label  string `json:"label"`
	Code   int    `json:"code"`
	// Confirm: the UI asks before sending (it changes the scooter's state).
	Confirm bool `json:"confirm,omitempty"`
}

func opt[T any](known bool, v T) *T {
	if !known {
		return nil
	}
	return &v
}

func (s *Server) vehicle(w http.ResponseWriter, r *http.Request, _ session) {
	id, err := protocol.ParseVehicleID(r.PathValue("id"))
	if err != nil {
		s.problem(w, http.StatusBadRequest, "bad vehicle number", err.Error())
		return
	}
	v, ok := s.d.Fleet.Get(id)
	if !ok {
		s.problem(w, http.StatusNotFound, "unknown vehicle", string(id))
		return
	}
	now := s.clock.Now()
	k := v.Known
	d := vehicleDetail{marker: s.classify(&v, now), State: v.State.String(), StateSince: v.StateSince.UTC(),
		LastSeen: opt(!v.LastSeen.IsZero(), v.LastSeen.UTC()),
		Speed:    opt(k.Has(fleet.FieldSpeed), v.SpeedKmh), Limit: opt(k.Has(fleet.FieldSpeedLimit), v.SpeedLimitKmh),
		Voltage: opt(k.Has(fleet.FieldVoltage), v.VoltageV), Powered: opt(k.Has(fleet.FieldPower), v.Powered),
		Locked: opt(k.Has(fleet.FieldLock), v.Locked), ChainOpen: opt(k.Has(fleet.FieldChainLock), v.ChainOpen),
		Fallen: opt(k.Has(fleet.FieldPosture), v.Fallen), AtStation: opt(k.Has(fleet.FieldStation), v.AtStation),
		Signal: opt(k.Has(fleet.FieldSignal), v.Signal), ErrorCode: opt(k.Has(fleet.FieldError), v.ErrorCode),
		Hardware: v.Hardware, Firmware: v.Firmware, IMEI: v.IMEI,
		Vibration: opt(!v.LastVibration.IsZero(), v.LastVibration.UTC()),
		Open:      []openBody{}, Actions: make([]actionBody, 0, len(actions)),
	}
	s.d.History.observePosition(&v)
	d.Events, d.Positions = s.d.History.of(string(id))
	for _, c := range s.d.Commands.Open(id) {
		d.Open = append(d.Open, openBody{Code: int(c.Code), Source: c.Source, State: c.State, Attempts: c.Attempts,
			Accepted: c.Accepted.UTC()})
	}
	if u, ok := s.d.Commands.UpgradeOf(id); ok {
		p := u.Progress()
		d.Upgrade = &upgradeBody{JobID: p.JobID, State: string(p.State), Sent: p.Sent, Total: p.Total,
			Failures: p.Failures, Restarts: p.Restarts}
		if p.Err != nil {
			d.Upgrade.Error = p.Err.Error()
		}
	}
	for _, a := range actions {
		d.Actions = append(d.Actions, actionBody{Action: a.name, Label: a.label, Code: int(a.build().Code()), Confirm: a.confirm})
	}
	s.json(w, http.StatusOK, d)
}

// action is a button of the vehicle page.
type action struct {
	name, label string
	confirm     bool
	build       func() protocol.Command
}

// actions are the commands a technician needs (PROTOCOL.md codes).
var actions = []action{
	{"beep", "Beep", false, func() protocol.Command { return &protocol.Buzzer{} }},                           // 28
	{"lights_on", "Lights on", false, func() protocol.Command { return protocol.NewSetHeadlight(true) }},     // 37 d=1
	{"lights_off", "Lights off", false, func() protocol.Command { return protocol.NewSetHeadlight(false) }},  // 37 d=0
	{"battery_unlock", "Battery unlock", true, func() protocol.Command { return &protocol.BatteryUnlock{} }}, // 60
	{"battery_lock", "Battery lock", false, func() protocol.Command { return &protocol.BatteryLock{} }},      // 62
	{"chain_unlock", "Chain unlock", true, func() protocol.Command { return &protocol.ChainUnlock{} }},       // 71
	{"motor_lock", "Motor lock", false, func() protocol.Command { return &protocol.MotorLock{} }},            // 107
	{"motor_unlock", "Motor unlock", true, func() protocol.Command { return &protocol.MotorUnlock{} }},       // 105
	{"query_params", "Parameters", false, func() protocol.Command { return &protocol.QueryParams{} }},        // 15
	{"query_gps", "GPS", false, func() protocol.Command { return &protocol.QueryGPS{} }},                     // 18
	{"query_version", "Firmware", false, func() protocol.Command { return &protocol.QueryVersion{} }},        // 21
	{"query_signal", "Signal", false, func() protocol.Command { return &protocol.QuerySignal{} }},            // 97
	{"reboot", "Reboot IoT", true, func() protocol.Command { return &protocol.Reboot{} }},                    // 20
}

func actionNamed(name string) (action, bool) {
	for _, a := range actions {
		if a.name == name {
			return a, true
		}
	}
	return action{}, false
}

type commandIn struct {
	Action string `json:"action"`
}

type commandOut struct {
	ID        string          `json:"id"`
	Action    string          `json:"action"`
	Code      int             `json:"code"`
	Outcome   string          `json:"outcome"` // acked, failed, timeout, rejected, expired, or pending (still waiting)
	ReplyCode int             `json:"reply_code,omitempty"`
	Status    *int            `json:"status,omitempty"`
	Reply     json.RawMessage `json:"reply,omitempty"`
	NoReply   bool            `json:"no_reply,omitempty"` // the command has no reply: acked = handed to the broker
	Error     string          `json:"error,omitempty"`
	LatencyMs float64         `json:"latency_ms,omitempty"`
	Attempts  int             `json:"attempts,omitempty"`
}

// command sends one action and waits for its outcome: the scooter's reply,
// its failure status, or the timeout. Audited before sending; the outcome is
// the command_result event (Source "fieldui:<user>").
func (s *Server) command(w http.ResponseWriter, r *http.Request, x session) {
	id, err := protocol.ParseVehicleID(r.PathValue("id"))
	if err != nil {
		s.problem(w, http.StatusBadRequest, "bad vehicle number", err.Error())
		return
	}
	if _, ok := s.d.Fleet.Get(id); !ok {
		s.problem(w, http.StatusNotFound, "unknown vehicle", string(id))
		return
	}
	var in commandIn
	dec := json.NewDecoder(io.LimitReader(r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.problem(w, http.StatusBadRequest, "bad command body", `want {"action": "beep"}`)
		return
	}
	a, ok := actionNamed(in.Action)
	if !ok {
		names := make([]string, len(actions))
		for i, a := range actions {
			names[i] = a.name
		}
		s.problem(w, http.StatusBadRequest, "unknown action", "one of "+strings.Join(names, ", "))
		return
	}
	cmd := a.build()
	s.audit(string(id), x.user.Username, "command", fmt.Sprintf("%s (%d)", a.name, cmd.Code()))
	now := s.clock.Now()
	// The command outlives the request (a reply still becomes an event), but
	// it is never published after the technician stopped waiting: a reboot
	// arriving minutes later would surprise whoever stands at the scooter.
	p := s.d.Commands.Send(context.WithoutCancel(r.Context()), id, cmd, command.Options{
		Source: "fieldui:" + x.user.Username, Timeout: s.cfg.CommandTimeout, Expires: now.Add(s.cfg.CommandTimeout)})
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CommandTimeout+2*time.Second)
	defer cancel()
	out := commandOut{ID: p.ID(), Action: a.name, Code: int(cmd.Code()), NoReply: !expectsReply(cmd.Code())}
	res, err := p.Wait(ctx)
	if err != nil {
		out.Outcome = "pending"
		out.Error = "no outcome yet: " + err.Error()
		s.json(w, http.StatusAccepted, out)
		return
	}
	out.Outcome = string(res.Outcome)
	out.ReplyCode, out.Status, out.Reply = res.ReplyCode, res.Status, res.Reply
	out.LatencyMs, out.Attempts = res.LatencyMs, res.Attempts
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	status := http.StatusOK
	if res.Outcome == link.OutcomeRejected && errors.Is(res.Err, command.ErrQueueFull) {
		status = http.StatusServiceUnavailable
	}
	s.json(w, status, out)
}

// expectsReply: commands without a reply in PROTOCOL.md (20 reboot, 28 and
// 58 buzzer, 93) are "acked" once handed to the broker.
func expectsReply(c protocol.Code) bool {
	_, ok := protocol.ExpectedReply(c)
	return ok
}
