package ingest

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// decodeTelemetryBatch is link.DecodeTelemetryBatch with a fast path: the
// canonical document the gateway uplink writes (its fields in declaration
// order, no whitespace, no escapes) is parsed without reflection; anything else
// goes to encoding/json. For any input the fast path accepts, the result is
// the one encoding/json gives (FuzzFastTelemetry).
func decodeTelemetryBatch(data []byte) (*link.TelemetryBatch, error) {
	if b, ok := fastTelemetryBatch(data); ok {
		if err := b.Validate(); err != nil {
			return nil, err
		}
		return b, nil
	}
	return link.DecodeTelemetryBatch(data)
}

// scanner walks a canonical document; any deviation sets fail and every later
// call is a no-op.
type scanner struct {
	d    []byte
	i    int
	fail bool
}

func (s *scanner) lit(l string) {
	if s.fail || len(s.d)-s.i < len(l) || string(s.d[s.i:s.i+len(l)]) != l {
		s.fail = true
		return
	}
	s.i += len(l)
}

// peek reports whether l comes next (and consumes it).
func (s *scanner) peek(l string) bool {
	if s.fail || len(s.d)-s.i < len(l) || string(s.d[s.i:s.i+len(l)]) != l {
		return false
	}
	s.i += len(l)
	return true
}

// str reads a string without escapes or control characters, valid UTF-8.
func (s *scanner) str() string {
	if s.fail || s.i >= len(s.d) || s.d[s.i] != '"' {
		s.fail = true
		return ""
	}
	start := s.i + 1
	for j := start; j < len(s.d); j++ {
		switch c := s.d[j]; {
		case c == '"':
			v := s.d[start:j]
			if !utf8.Valid(v) {
				s.fail = true
				return ""
			}
			s.i = j + 1
			return string(v)
		case c == '\\' || c < 0x20:
			s.fail = true
			return ""
		}
	}
	s.fail = true
	return ""
}

// number returns the next JSON number token (grammar checked) and whether it
// has a fraction or exponent.
func (s *scanner) number() (tok string, isFloat bool) {
	if s.fail {
		return "", false
	}
	d, j := s.d, s.i
	if j < len(d) && d[j] == '-' {
		j++
	}
	switch {
	case j < len(d) && d[j] == '0':
		j++
	case j < len(d) && d[j] >= '1' && d[j] <= '9':
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
	default:
		s.fail = true
		return "", false
	}
	if j < len(d) && d[j] == '.' {
		isFloat = true
		j++
		k := j
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
		if j == k {
			s.fail = true
			return "", false
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		isFloat = true
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		k := j
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
		if j == k {
			s.fail = true
			return "", false
		}
	}
	tok = string(d[s.i:j])
	s.i = j
	return tok, isFloat
}

func (s *scanner) int() int {
	tok, isFloat := s.number()
	if s.fail || isFloat {
		s.fail = true
		return 0
	}
	v, err := strconv.ParseInt(tok, 10, strconv.IntSize)
	if err != nil {
		s.fail = true
	}
	return int(v)
}

func (s *scanner) uint64() uint64 {
	tok, isFloat := s.number()
	if s.fail || isFloat {
		s.fail = true
		return 0
	}
	v, err := strconv.ParseUint(tok, 10, 64)
	if err != nil {
		s.fail = true
	}
	return v
}

func (s *scanner) float() float64 {
	tok, _ := s.number()
	if s.fail {
		return 0
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		s.fail = true
	}
	return v
}

func (s *scanner) bool() bool {
	switch {
	case s.peek("true"):
		return true
	case s.peek("false"):
		return false
	}
	s.fail = true
	return false
}

// time parses a string with time.Time's own JSON decoder.
func (s *scanner) time() time.Time {
	start := s.i
	s.str()
	if s.fail {
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalJSON(s.d[start:s.i]); err != nil {
		s.fail = true
	}
	return t
}

func fastTelemetryBatch(data []byte) (*link.TelemetryBatch, bool) {
	s := &scanner{d: data}
	b := &link.TelemetryBatch{}
	s.lit(`{"v":`)
	b.V = s.int()
	s.lit(`,"gateway":`)
	b.Gateway = link.GatewayID(s.str())
	s.lit(`,"city":`)
	b.City = link.CityID(s.str())
	s.lit(`,"records":[`)
	if s.peek("]") {
		b.Records = []link.Telemetry{} // as encoding/json: empty, not nil
	} else {
		b.Records = make([]link.Telemetry, 0, len(data)/140+1)
		for !s.fail {
			b.Records = append(b.Records, s.telemetry())
			if s.peek("]") {
				break
			}
			s.lit(",")
		}
	}
	s.lit("}")
	if s.fail || s.i != len(data) {
		return nil, false
	}
	return b, true
}

func (s *scanner) telemetry() link.Telemetry {
	var r link.Telemetry
	s.lit(`{"seq":`)
	r.Seq = s.uint64()
	s.lit(`,"vehicle":`)
	r.Vehicle = s.str()
	s.lit(`,"time":`)
	r.Time = s.time()
	if s.peek(`,"position":{"lat":`) {
		p := &link.Position{}
		p.Lat = s.float()
		s.lit(`,"lon":`)
		p.Lon = s.float()
		if s.peek(`,"lbs":`) {
			p.LBS = s.bool()
		}
		if s.peek(`,"alarm":`) {
			p.Alarm = s.bool()
		}
		if s.peek(`,"fix_time":`) {
			p.FixTime = s.time()
		}
		s.lit("}")
		r.Position = p
	}
	if s.peek(`,"speed_kmh":`) {
		v := s.float()
		r.SpeedKmh = &v
	}
	if s.peek(`,"battery_pct":`) {
		v := s.int()
		r.BatteryPct = &v
	}
	if s.peek(`,"voltage_v":`) {
		v := s.float()
		r.VoltageV = &v
	}
	if s.peek(`,"signal":`) {
		v := s.int()
		r.Signal = &v
	}
	if s.peek(`,"status":{"powered":`) {
		st := &link.Status{}
		st.Powered = s.bool()
		s.lit(`,"paused":`)
		st.Paused = s.bool()
		s.lit(`,"fallen":`)
		st.Fallen = s.bool()
		s.lit(`,"at_station":`)
		st.AtStation = s.bool()
		s.lit(`,"error_code":`)
		st.ErrorCode = s.int()
		s.lit("}")
		r.Status = st
	}
	s.lit("}")
	return r
}
