package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// errUnprocessable marks a message that goes to the dead-letter subject.
var errUnprocessable = errors.New("ingest: unprocessable message")

func unprocessable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUnprocessable}, args...)...)
}

// item is one decoded message and the rows it produced.
type item struct {
	city    link.CityID
	gateway link.GatewayID
	tel     []chstore.TelemetryRow
	ev      []chstore.EventRow
	cmd     []chstore.CommandRow
	events  []link.Event // for the hook
}

func (it *item) rows() int { return len(it.tel) + len(it.ev) + len(it.cmd) }

// subjectParts splits "fleet.up.<city>.<kind>".
func subjectParts(subject string) (city link.CityID, kind string, err error) {
	rest, ok := strings.CutPrefix(subject, "fleet.up.")
	if !ok {
		return "", "", unprocessable("subject %q outside fleet.up", subject)
	}
	c, kind, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(kind, ".") {
		return "", "", unprocessable("subject %q is not fleet.up.<city>.<kind>", subject)
	}
	city, err = link.ParseCityID(c)
	if err != nil {
		return "", "", unprocessable("subject %q: %v", subject, err)
	}
	return city, kind, nil
}

// decode turns one message into rows, folding telemetry into live. Any error
// wraps errUnprocessable.
func decode(subject string, data []byte, live *livestate.Fleet) (*item, error) {
	city, kind, err := subjectParts(subject)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "telemetry":
		b, err := decodeTelemetryBatch(data)
		if err != nil {
			return nil, unprocessable("%v", err)
		}
		if b.City != city {
			return nil, unprocessable("batch of city %q on the subject of %q", b.City, city)
		}
		return telemetryItem(b, live)
	case "events":
		b, err := link.DecodeEventBatch(data)
		if err != nil {
			return nil, unprocessable("%v", err)
		}
		if b.City != city {
			return nil, unprocessable("batch of city %q on the subject of %q", b.City, city)
		}
		return eventItem(b, data, live)
	}
	return nil, unprocessable("unknown kind %q in subject %q", kind, subject)
}

func telemetryItem(b *link.TelemetryBatch, live *livestate.Fleet) (*item, error) {
	for i := range b.Records {
		if err := checkTelemetry(&b.Records[i]); err != nil {
			return nil, unprocessable("record %d (seq %d): %v", i, b.Records[i].Seq, err)
		}
	}
	it := &item{city: b.City, gateway: b.Gateway, tel: make([]chstore.TelemetryRow, len(b.Records))}
	for i := range b.Records {
		r := &b.Records[i]
		v := live.Apply(b.City, b.Gateway, r)
		it.tel[i] = telemetryRow(b.City, b.Gateway, r, &v)
	}
	return it, nil
}

// maxTime is the last second ClickHouse's DateTime holds.
var maxTime = time.Unix(math.MaxUint32, 0)

func checkTelemetry(r *link.Telemetry) error {
	bad := func(f string, args ...any) error { return fmt.Errorf(f, args...) }
	switch {
	case len(r.Vehicle) > 128:
		return bad("vehicle longer than 128 bytes")
	case r.Time.Unix() <= 0 || !r.Time.Before(maxTime):
		return bad("time %v outside 1970-2106", r.Time)
	case r.Position != nil && (!(r.Position.Lat >= -90 && r.Position.Lat <= 90) || !(r.Position.Lon >= -180 && r.Position.Lon <= 180)):
		return bad("position %v,%v out of range", r.Position.Lat, r.Position.Lon)
	case r.SpeedKmh != nil && !(*r.SpeedKmh >= 0 && *r.SpeedKmh < 1000):
		return bad("speed %v out of range", *r.SpeedKmh)
	case r.BatteryPct != nil && (*r.BatteryPct < 0 || *r.BatteryPct > 100):
		return bad("battery %d out of range", *r.BatteryPct)
	case r.VoltageV != nil && !(*r.VoltageV >= 0 && *r.VoltageV < 1000):
		return bad("voltage %v out of range", *r.VoltageV)
	case r.Signal != nil && (*r.Signal < 0 || *r.Signal > 255):
		return bad("signal %d out of range", *r.Signal)
	case r.Status != nil && (r.Status.ErrorCode < 0 || r.Status.ErrorCode > math.MaxUint16):
		return bad("error code %d out of range", r.Status.ErrorCode)
	}
	return nil
}

// telemetryRow is the wide row of r: the groups r carries, exactly as sent, and
// the vehicle's latest known value of the others (see doc.go). The record's own
// groups never come from the merged state: a resent or redelivered record is
// folded when the state is already ahead of it, and must still store its own fix.
func telemetryRow(city link.CityID, gw link.GatewayID, r *link.Telemetry, v *livestate.Vehicle) chstore.TelemetryRow {
	pos, speed, battery, voltage, signal, status := v.Position, v.SpeedKmh, v.BatteryPct, v.VoltageV, v.Signal, v.Status
	if r.Position != nil {
		pos = *r.Position
	}
	if r.SpeedKmh != nil {
		speed = *r.SpeedKmh
	}
	if r.BatteryPct != nil {
		battery = *r.BatteryPct
	}
	if r.VoltageV != nil {
		voltage = *r.VoltageV
	}
	if r.Signal != nil {
		signal = *r.Signal
	}
	if r.Status != nil {
		status = *r.Status
	}
	return chstore.TelemetryRow{
		City: string(city), Gateway: string(gw), Seq: r.Seq, Vehicle: r.Vehicle, Time: r.Time,
		Lat: pos.Lat, Lon: pos.Lon,
		SpeedKmh:   float32(speed),
		BatteryPct: uint8(battery), VoltageV: float32(voltage), Signal: uint8(signal),
		Powered: status.Powered, Paused: status.Paused, Fallen: status.Fallen,
		AtStation: status.AtStation, ErrorCode: uint16(status.ErrorCode),
	}
}

// knownKinds have a typed payload; other kinds are stored raw.
var knownKinds = map[link.EventKind]bool{
	link.EventRideStarted: true, link.EventRideEnded: true, link.EventRidePaused: true,
	link.EventRideResumed: true, link.EventAlarm: true, link.EventCommand: true,
	link.EventStateChanged: true, link.EventSecurity: true, link.EventFirmware: true,
}

func eventItem(b *link.EventBatch, data []byte, live *livestate.Fleet) (*item, error) {
	var raw struct {
		Events []json.RawMessage `json:"events"`
	}
	it := &item{city: b.City, gateway: b.Gateway, events: b.Events, ev: make([]chstore.EventRow, len(b.Events))}
	for i := range b.Events {
		e := &b.Events[i]
		if len(e.Vehicle) > 128 || e.Time.Unix() <= 0 || !e.Time.Before(maxTime) || e.Kind == "" || len(e.Kind) > 128 {
			return nil, unprocessable("event %d (seq %d): vehicle, time or kind out of range", i, e.Seq)
		}
		var details []byte
		var err error
		if knownKinds[e.Kind] {
			details, err = json.Marshal(payloadOf(e))
		} else {
			if raw.Events == nil {
				if err := json.Unmarshal(data, &raw); err != nil || len(raw.Events) != len(b.Events) {
					return nil, unprocessable("event batch: raw events unreadable")
				}
			}
			details = raw.Events[i]
		}
		if err != nil {
			return nil, unprocessable("event %d: %v", i, err)
		}
		row := chstore.EventRow{City: string(b.City), Gateway: string(b.Gateway), Seq: e.Seq, Vehicle: e.Vehicle,
			Time: e.Time, Kind: string(e.Kind), Details: string(details)}
		if e.Kind == link.EventCommand {
			c := e.Command
			if c.Code < 0 || c.Code > math.MaxUint16 || c.ReplyCode < 0 || c.ReplyCode > math.MaxUint16 {
				return nil, unprocessable("event %d: command code out of range", i)
			}
			if c.Outcome == "" || len(c.Outcome) > 128 {
				return nil, unprocessable("event %d: command result without outcome", i)
			}
			row.Code = uint16(c.Code)
			it.cmd = append(it.cmd, commandRow(b, e))
		}
		it.ev[i] = row
		// Gateway-level events (a technician's login audited as "gateway:<id>") are
		// stored but are no vehicle of the live state.
		if _, err := protocol.ParseVehicleID(e.Vehicle); err == nil {
			live.ApplyEvent(b.City, b.Gateway, e)
		}
	}
	return it, nil
}

func payloadOf(e *link.Event) any {
	switch {
	case e.Ride != nil:
		return e.Ride
	case e.Alarm != nil:
		return e.Alarm
	case e.Command != nil:
		return e.Command
	case e.State != nil:
		return e.State
	case e.Security != nil:
		return e.Security
	case e.Firmware != nil:
		return e.Firmware
	}
	return struct{}{}
}

func commandRow(b *link.EventBatch, e *link.Event) chstore.CommandRow {
	c := e.Command
	status := int16(-1)
	if c.Status != nil && *c.Status >= math.MinInt16 && *c.Status <= math.MaxInt16 {
		status = int16(*c.Status)
	}
	latency := time.Duration(0)
	if c.LatencyMs > 0 && c.LatencyMs < math.MaxUint32 {
		latency = time.Duration(c.LatencyMs * float64(time.Millisecond))
	}
	issued := e.Time.Add(-latency)
	if issued.Unix() <= 0 {
		issued = e.Time
	}
	return chstore.CommandRow{City: string(b.City), Gateway: string(b.Gateway), Seq: e.Seq, Vehicle: e.Vehicle,
		Time: issued, Command: uint16(c.Code), Fields: "{}", Outcome: string(c.Outcome),
		ReplyCode: uint16(c.ReplyCode), ReplyStatus: status, LatencyMs: uint32(latency / time.Millisecond),
		Source: c.Source}
}
