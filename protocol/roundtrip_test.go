package protocol

import (
	"encoding/hex"
	"reflect"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// Generators drawing valid values for every field of the registry, so that
// the round-trip properties cover every command and every report.

const (
	hostRE   = `[A-Za-z0-9.-]{1,40}`
	credRE   = `[!#-+\--9;-\[\]-z|~]{0,20}`
	apnRE    = `[ !#-+\--\[\]-~]{1,30}`
	apnCred  = `[ !#-+\--\[\]-~]{0,30}`
	idRE     = `[A-Za-z0-9_-]{1,32}`
	serialRE = `[A-Za-z0-9_.-]{1,32}`
)

func genVehicle() *rapid.Generator[VehicleID] {
	return rapid.Custom(func(t *rapid.T) VehicleID {
		s := rapid.OneOf(rapid.StringMatching(idRE), rapid.Just("null")).Filter(func(s string) bool { return s != "bike" && s != "o" }).Draw(t, "vehicle")
		return VehicleID(s)
	})
}

// trickyStrings exercise the quirk encoders' safety checks.
var trickyStrings = []string{"null", `","s":1`, `"`, `}`, `,`, `,}`, `a,b:c`, `x", "t":`, `\`, `\"`, "tab\there", "nl\n", `{"k":1}`, "ünï€ode", " lead", "trail ", `,"`, `""`, `:`, "0"}

func genText(fs *FieldSpec) *rapid.Generator[string] {
	arb := rapid.StringOfN(rapid.Rune(), int(fs.Min), int(fs.Max), int(fs.Max))
	tricky := rapid.SampledFrom(trickyStrings).Filter(func(s string) bool {
		return int64(len(s)) >= fs.Min && int64(len(s)) <= fs.Max
	})
	return rapid.OneOf(arb, tricky, rapid.StringMatching(`[a-z0-9 .,:]{0,20}`).Filter(func(s string) bool {
		return int64(len(s)) >= fs.Min && int64(len(s)) <= fs.Max
	}))
}

func genFormatted(t *rapid.T, fs *FieldSpec) string {
	switch fs.Format {
	case FormatAPN:
		return (&SetAPN{APN: rapid.StringMatching(apnRE).Draw(t, "apn"),
			User: rapid.StringMatching(apnCred).Draw(t, "user"), Password: rapid.StringMatching(apnCred).Draw(t, "pass")}).wire()
	case FormatServerParams:
		return (&SetServerParams{Host: rapid.StringMatching(hostRE).Draw(t, "host"), Port: rapid.IntRange(1, 65535).Draw(t, "port"),
			User: rapid.StringMatching(credRE).Draw(t, "user"), Password: rapid.StringMatching(credRE).Draw(t, "pass")}).wire()
	case FormatLegacyServerParams:
		return (&SetServerParamsLegacy{IP: rapid.StringMatching(hostRE).Draw(t, "ip"), Port: rapid.IntRange(1, 65535).Draw(t, "port"),
			Vehicle: string(genVehicle().Draw(t, "vehicle")), GPSInterval: rapid.IntRange(1, 65535).Draw(t, "gps"),
			HeartbeatInterval: rapid.IntRange(1, 65535).Draw(t, "hb"), HeartbeatRetries: rapid.IntRange(1, 255).Draw(t, "retries")}).wire()
	case FormatSerialNumber:
		return rapid.StringMatching(serialRE).Draw(t, "sn") + ":"
	}
	return genText(fs).Draw(t, fs.Key)
}

func genGPS() *rapid.Generator[GPS] {
	return rapid.Custom(func(t *rapid.T) GPS {
		lat := rapid.Int64Range(-90*e4PerDegree, 90*e4PerDegree).Draw(t, "lat")
		lon := rapid.Int64Range(-180*e4PerDegree, 180*e4PerDegree).Draw(t, "lon")
		return GPS{Lat: float64(lat) / e4PerDegree, Lon: float64(lon) / e4PerDegree,
			Business: BusinessType(rapid.IntRange(0, 1).Draw(t, "b")), Location: LocationType(rapid.IntRange(0, 1).Draw(t, "l"))}
	})
}

// genToken draws a valid value for fs and returns it as a canonical JSON
// token (as the encoder writes it) and as a NewCommand map value.
func genToken(t *rapid.T, s *Spec, fs *FieldSpec, vals map[string]any) ([]byte, any) {
	switch fs.Type {
	case FieldInt:
		if s.Code == CodeFirmwarePackage && fs.Key == "l" {
			n := len(vals["d"].([]byte))
			return strconv.AppendInt(nil, int64(n), 10), int64(n)
		}
		n := rapid.Int64Range(fs.Min, fs.Max).Draw(t, fs.Key)
		return strconv.AppendInt(nil, n, 10), n
	case FieldFloat:
		f := rapid.Float64Range(float64(fs.Min), float64(fs.Max)).Draw(t, fs.Key)
		b := strconv.AppendFloat(nil, f, 'f', -1, 64)
		if len(b) > 24 {
			b = strconv.AppendFloat(nil, f, 'g', -1, 64)
		}
		return b, f
	case FieldDigits:
		d := rapid.StringMatching(`[0-9]{1,16}`).Draw(t, fs.Key)
		return appendEscaped(nil, d), d
	case FieldGPS:
		g := genGPS().Draw(t, fs.Key)
		str, err := FormatGPS(g)
		if err != nil {
			t.Fatal(err)
		}
		return appendEscaped(nil, str), str
	case FieldHex:
		d := rapid.SliceOfN(rapid.Byte(), int(fs.Min), int(fs.Max)).Draw(t, fs.Key)
		return []byte(`"` + hex.EncodeToString(d) + `"`), d
	default:
		str := genFormatted(t, fs)
		return appendEscaped(nil, str), str
	}
}

func genQuirks() *rapid.Generator[Quirks] {
	return rapid.Custom(func(t *rapid.T) Quirks {
		return Quirks{
			UnquotedStrings: rapid.Bool().Draw(t, "unquoted"),
			RawQuotes:       rapid.Bool().Draw(t, "rawquotes"),
			TrailingComma:   rapid.Bool().Draw(t, "trailing"),
			NumericIMEI:     rapid.Bool().Draw(t, "numimei"),
			Decimals:        rapid.Bool().Draw(t, "decimals"),
			EmptyValues:     FieldMask(rapid.Uint64().Draw(t, "empty")) & (1<<numKeys - 1),
			ShortGPS:        rapid.Bool().Draw(t, "shortgps"),
		}
	})
}

// fieldOrder: 67's d is drawn before l so that l can equal its length.
func fieldOrder(s *Spec) []int {
	idx := make([]int, 0, len(s.Fields))
	for i := range s.Fields {
		if s.Fields[i].Type == FieldHex {
			idx = append([]int{i}, idx...)
		} else {
			idx = append(idx, i)
		}
	}
	return idx
}

func TestRoundTripCommands(t *testing.T) {
	for _, spec := range Specs() {
		if spec.Direction != ToScooter {
			continue
		}
		s := specFor(spec.Code)
		t.Run(strconv.Itoa(int(s.Code))+"-"+s.Name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				vals := map[string]any{}
				toks := map[string][]byte{}
				for _, i := range fieldOrder(s) {
					fs := &s.Fields[i]
					toks[fs.Key], vals[fs.Key] = genToken(t, s, fs, vals)
				}
				c, err := NewCommand(s.Code, vals)
				if err != nil {
					t.Fatalf("NewCommand(%d, %v): %v", s.Code, vals, err)
				}
				if err := Validate(c); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				v := genVehicle().Draw(t, "vehicle")
				p, err := EncodeCommand(v, c)
				if err != nil {
					t.Fatalf("EncodeCommand: %v", err)
				}
				if p.Topic != string(v) || p.QoS != s.QoS {
					t.Fatalf("packet topic/QoS %q/%d", p.Topic, p.QoS)
				}
				// The canonical form: "a" first, registry order, strings quoted raw.
				want := []byte(`{"a":` + strconv.Itoa(int(s.Code)))
				for i := range s.Fields {
					fs := &s.Fields[i]
					want = append(want, `,"`+fs.Key+`":`...)
					if str, ok := vals[fs.Key].(string); ok && fs.Type == FieldString {
						want = append(append(append(want, '"'), str...), '"')
					} else {
						want = append(want, toks[fs.Key]...)
					}
				}
				want = append(want, '}')
				if string(p.Payload) != string(want) {
					t.Fatalf("payload\n got %s\nwant %s", p.Payload, want)
				}
				c2, err := DecodeCommand(p.Payload)
				if err != nil {
					t.Fatalf("DecodeCommand(%s): %v", p.Payload, err)
				}
				if !reflect.DeepEqual(c, c2) {
					t.Fatalf("round trip of %s:\n%#v\n%#v", p.Payload, c, c2)
				}
				m3, err := Decode(string(v), p.Payload)
				if err != nil || !reflect.DeepEqual(Message(c), m3) {
					t.Fatalf("Decode on the vehicle topic: %v %#v", err, m3)
				}
				q := genQuirks().Draw(t, "quirks")
				qp, err := EncodeCommandQuirks(v, c, q)
				if err != nil {
					t.Fatalf("EncodeCommandQuirks: %v", err)
				}
				c4, err := DecodeCommand(qp.Payload)
				if err != nil || !reflect.DeepEqual(c, c4) {
					t.Fatalf("quirky round trip of %s: %v\n%#v\n%#v", qp.Payload, err, c, c4)
				}
			})
		})
	}
}

func TestRoundTripReports(t *testing.T) {
	for _, spec := range Specs() {
		if spec.Direction != FromScooter {
			continue
		}
		s := specFor(spec.Code)
		t.Run(strconv.Itoa(int(s.Code))+"-"+s.Name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				v := genVehicle().Draw(t, "vehicle")
				all := rapid.Bool().Draw(t, "all")
				mask := FieldMask(0).With('a').With('i')
				payload := []byte(`{"a":` + strconv.Itoa(int(s.Code)) + `,"i":"` + string(v) + `"`)
				for i := range s.Fields {
					fs := &s.Fields[i]
					if !all && !rapid.Bool().Draw(t, "has-"+fs.Key) {
						continue
					}
					tok, _ := genToken(t, s, fs, nil)
					payload = append(append(payload, `,"`+fs.Key+`":`...), tok...)
					mask = mask.With(fs.Key[0])
				}
				payload = append(payload, '}')
				topic := s.Topic.Name(v)
				m, err := Decode(topic, payload)
				if err != nil {
					t.Fatalf("Decode(%s): %v", payload, err)
				}
				r, ok := m.(Report)
				if !ok || r.Vehicle() != v || r.Fields() != mask || m.Code() != s.Code {
					t.Fatalf("decoded %#v (mask %s, want %s)", m, r.Fields(), mask)
				}
				p, err := EncodeReport(r, Quirks{})
				if err != nil {
					t.Fatalf("EncodeReport: %v", err)
				}
				if string(p.Payload) != string(payload) || p.Topic != topic || p.QoS != s.QoS {
					t.Fatalf("re-encoded\n got %s (%s, %d)\nwant %s", p.Payload, p.Topic, p.QoS, payload)
				}
				q := genQuirks().Draw(t, "quirks")
				qp, err := EncodeReport(r, q)
				if err != nil {
					t.Fatalf("EncodeReport(quirks): %v", err)
				}
				m2, err := Decode(topic, qp.Payload)
				if err != nil || !reflect.DeepEqual(m, m2) {
					t.Fatalf("quirky round trip of %s: %v\n%#v\n%#v", qp.Payload, err, m, m2)
				}
				// A hand-built value (zero mask) writes every field.
				if all {
					h := r.header()
					h.Present = 0
					full, err := EncodeReport(r, Quirks{})
					h.Present = mask
					if err != nil || string(full.Payload) != string(payload) {
						t.Fatalf("zero mask: %v\n got %s\nwant %s", err, full.Payload, payload)
					}
				}
			})
		})
	}
}

func TestGPSRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genGPS().Draw(t, "gps")
		s, err := FormatGPS(g)
		if err != nil {
			t.Fatal(err)
		}
		g2, err := ParseGPS(s)
		if err != nil || g2 != g {
			t.Fatalf("%s: %v %+v != %+v", s, err, g2, g)
		}
	})
}
