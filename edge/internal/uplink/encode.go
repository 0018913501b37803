package uplink

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// errEncode reports a value JSON cannot carry (NaN, ±Inf, invalid UTF-8, a
// year outside 0–9999).
var errEncode = errors.New("uplink: value not encodable as JSON")

// appendTelemetryBatch appends the JSON of link.TelemetryBatch{h, recs}: the
// same document encoding/json writes (field names, omitempty/omitzero), built
// without reflection because it is the uplink's hottest path. Decoding it with
// link.DecodeTelemetryBatch gives back recs (TestAppendTelemetryBatchRoundTrip).
func appendTelemetryBatch(b []byte, h link.Header, recs []link.Telemetry) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(h.V), 10)
	b = append(b, `,"gateway":`...)
	var err error
	if b, err = appendString(b, string(h.Gateway)); err != nil {
		return b, err
	}
	b = append(b, `,"city":`...)
	if b, err = appendString(b, string(h.City)); err != nil {
		return b, err
	}
	b = append(b, `,"records":[`...)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendTelemetry(b, &recs[i]); err != nil {
			return b, err
		}
	}
	return append(b, "]}"...), nil
}

func appendTelemetry(b []byte, r *link.Telemetry) ([]byte, error) {
	var err error
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"vehicle":`...)
	if b, err = appendString(b, r.Vehicle); err != nil {
		return b, err
	}
	b = append(b, `,"time":`...)
	if b, err = appendTime(b, r.Time); err != nil {
		return b, err
	}
	if p := r.Position; p != nil {
		b = append(b, `,"position":{"lat":`...)
		if b, err = appendFloat(b, p.Lat); err != nil {
			return b, err
		}
		b = append(b, `,"lon":`...)
		if b, err = appendFloat(b, p.Lon); err != nil {
			return b, err
		}
		if p.LBS {
			b = append(b, `,"lbs":true`...)
		}
		if p.Alarm {
			b = append(b, `,"alarm":true`...)
		}
		if !p.FixTime.IsZero() {
			b = append(b, `,"fix_time":`...)
			if b, err = appendTime(b, p.FixTime); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	if r.SpeedKmh != nil {
		b = append(b, `,"speed_kmh":`...)
		if b, err = appendFloat(b, *r.SpeedKmh); err != nil {
			return b, err
		}
	}
	if r.BatteryPct != nil {
		b = append(b, `,"battery_pct":`...)
		b = strconv.AppendInt(b, int64(*r.BatteryPct), 10)
	}
	if r.VoltageV != nil {
		b = append(b, `,"voltage_v":`...)
		if b, err = appendFloat(b, *r.VoltageV); err != nil {
			return b, err
		}
	}
	if r.Signal != nil {
		b = append(b, `,"signal":`...)
		b = strconv.AppendInt(b, int64(*r.Signal), 10)
	}
	if s := r.Status; s != nil {
		b = append(b, `,"status":{"powered":`...)
		b = strconv.AppendBool(b, s.Powered)
		b = append(b, `,"paused":`...)
		b = strconv.AppendBool(b, s.Paused)
		b = append(b, `,"fallen":`...)
		b = strconv.AppendBool(b, s.Fallen)
		b = append(b, `,"at_station":`...)
		b = strconv.AppendBool(b, s.AtStation)
		b = append(b, `,"error_code":`...)
		b = strconv.AppendInt(b, int64(s.ErrorCode), 10)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendTime writes t as encoding/json does (RFC 3339 with nanoseconds).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, errEncode
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendFloat writes the shortest decimal that parses back to f.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errEncode
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64), nil
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), nil
}

// appendString writes s as a JSON string; s must be valid UTF-8.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return b, errEncode
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}
