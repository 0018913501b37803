package protocol

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		topic   string
		payload string
		kind    ErrorKind
		field   string
		offset  int
	}{
		{"empty", "bike", ``, ErrSyntax, "", 0},
		{"not an object", "bike", `[1]`, ErrSyntax, "", 0},
		{"unterminated", "bike", `{"a":27,"i":"12AB"`, ErrSyntax, "", 12},
		{"unterminated bare", "bike", `{"a":27`, ErrSyntax, "", 5},
		{"unterminated string", "bike", `{"a":27,"i":"12AB`, ErrSyntax, "", 12},
		// A quote followed by "}x" does not end a string (quirk 2), so the
		// string runs to the end of the payload.
		{"trailing data", "bike", `{"a":27,"i":"12AB"}x`, ErrSyntax, "", 12},
		{"trailing data after bare", "bike", `{"a":27,"i":"12AB","b":1} x`, ErrSyntax, "", 23},
		{"no key", "bike", `{:1}`, ErrSyntax, "", 1},
		// A comma not followed by a key belongs to the bare value (quirk 1).
		{"double comma", "bike", `{"a":27,,"i":"1"}`, ErrSyntax, "a", 5},
		{"empty object", "bike", `{}`, ErrMissingField, "a", -1},
		{"no colon", "bike", `{"a" 27}`, ErrSyntax, "", 5},
		{"deep nesting", "bike", `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `,"a":27,"i":"1"}`, ErrSyntax, "", 5 + 32},
		{"too large", "bike", `{"a":78,"i":"1","b":"` + strings.Repeat("x", MaxPayload) + `"}`, ErrTooLarge, "", MaxPayload},
		{"missing a", "bike", `{"i":"12AB"}`, ErrMissingField, "a", -1},
		{"empty a", "bike", `{"a":,"i":"12AB"}`, ErrMissingField, "a", 1},
		{"a not a number", "bike", `{"a":"x","i":"12AB"}`, ErrSyntax, "a", 6},
		{"a nested", "bike", `{"a":[27],"i":"12AB"}`, ErrType, "a", 5},
		{"unknown code", "bike", `{"a":17,"i":"12AB"}`, ErrUnknownCode, "a", 5},
		{"huge code", "bike", `{"a":99999999999,"i":"12AB"}`, ErrUnknownCode, "a", 5},
		{"negative code", "bike", `{"a":-27,"i":"12AB"}`, ErrUnknownCode, "a", 5},
		{"overflow code", "bike", `{"a":99999999999999999999,"i":"12AB"}`, ErrRange, "a", 5},
		{"missing i", "bike", `{"a":27,"b":1}`, ErrMissingField, "i", -1},
		{"bad i", "bike", `{"a":27,"i":"12 AB"}`, ErrFormat, "i", 13},
		{"i is bike", "bike", `{"a":27,"i":"bike"}`, ErrFormat, "i", 13},
		{"i differs from topic", "12AB", `{"a":78,"i":"99ZZ"}`, ErrTopic, "i", 13},
		{"bad topic", "bike/x", `{"a":27,"i":"12AB"}`, ErrTopic, "", -1},
		{"command on bike", "bike", `{"a":1}`, ErrDirection, "a", 5},
		{"battery range", "bike", `{"a":27,"i":"12AB","b":101}`, ErrRange, "b", 23},
		{"battery fraction", "bike", `{"a":27,"i":"12AB","b":50.5}`, ErrSyntax, "b", 23},
		{"battery nested", "bike", `{"a":27,"i":"12AB","b":{}}`, ErrType, "b", 23},
		{"voltage NaN", "bike", `{"a":27,"i":"12AB","r":NaN}`, ErrSyntax, "r", 23},
		{"voltage negative", "bike", `{"a":27,"i":"12AB","r":-1}`, ErrRange, "r", 23},
		{"gps minutes", "bike", `{"a":19,"i":"12AB","g":"3060.0,12006.4229"}`, ErrRange, "g", 24},
		{"gps latitude", "bike", `{"a":19,"i":"12AB","g":"9001.0,12006.4229"}`, ErrRange, "g", 24},
		{"gps longitude", "bike", `{"a":19,"i":"12AB","g":"3000.0,18001.0"}`, ErrRange, "g", 31},
		{"gps garbage", "bike", `{"a":19,"i":"12AB","g":"north"}`, ErrFormat, "g", 24},
		{"gps one field", "bike", `{"a":19,"i":"12AB","g":"3000.0"}`, ErrFormat, "g", 30},
		{"gps type 2", "bike", `{"a":19,"i":"12AB","g":"3000.0,12000.0,2"}`, ErrRange, "g", 39},
		{"imei letters", "bike", `{"a":25,"i":"12AB","h":"86123X"}`, ErrFormat, "h", 24},
		{"imei 17 digits", "bike", `{"a":25,"i":"12AB","h":12345678901234567}`, ErrRange, "h", 23},
		{"command missing field", "12AB", `{"a":13}`, ErrMissingField, "k", -1},
		{"command empty field", "12AB", `{"a":13,"k":}`, ErrMissingField, "k", 8},
		{"speed range", "12AB", `{"a":13,"k":2031}`, ErrRange, "k", 12},
		{"apn shape", "12AB", `{"a":53,"z":"AT+CGDCONT=1"}`, ErrFormat, "z", 13},
		{"hex odd", "12AB", `{"a":67,"x":1,"l":1,"d":"abc"}`, ErrFormat, "d", 25},
		{"hex length mismatch", "12AB", `{"a":67,"x":1,"l":2,"d":"ab"}`, ErrFormat, "l", 18},
		{"server params shape", "12AB", `{"a":101,"u":host:port}`, ErrFormat, "u", 13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.topic, []byte(tc.payload))
			if err == nil {
				t.Fatalf("decoded %#v, want error", m)
			}
			if m != nil {
				t.Fatalf("non-nil message with error")
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want kind %v", err, tc.kind)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			if de.Field != tc.field || de.Offset != tc.offset {
				t.Fatalf("field %q offset %d, want %q %d (%v)", de.Field, de.Offset, tc.field, tc.offset, err)
			}
			if !strings.Contains(err.Error(), "protocol: decode") {
				t.Fatalf("message %q", err)
			}
		})
	}
}

func TestDecodeCommandDirection(t *testing.T) {
	if _, err := DecodeCommand([]byte(`{"a":27,"i":"12AB"}`)); !errors.Is(err, ErrDirection) {
		t.Fatalf("got %v", err)
	}
	c, err := DecodeCommand([]byte(`{"a":58,"v":2,"i":100,"L":50,}`))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.(*SpecialBuzzer); b.RingMS != 100 || b.Rings != 2 || b.SilenceMS != 50 {
		t.Fatalf("got %#v", b)
	}
}

func TestDecodeKeepsIMEIDigitsExact(t *testing.T) {
	m, err := Decode("bike", []byte(`{"a":25,"i":"12AB","h":8612345678901239,"t":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*IMEIReply).IMEI; got != "8612345678901239" {
		t.Fatalf("IMEI %q", got) // float64 would give ...240
	}
}

func TestParseGPS(t *testing.T) {
	tests := []struct {
		in       string
		lat, lon float64
		b, l     uint8
		kind     ErrorKind
	}{
		{"3020.5887,12006.4229,1", 30 + 20.5887/60, 120 + 6.4229/60, 1, 0, 0},
		{"3020.5887,12006.4229,0,1", 30 + 20.5887/60, 120 + 6.4229/60, 0, 1, 0},
		{"3020.5887,12006.4229", 30 + 20.5887/60, 120 + 6.4229/60, 0, 0, 0},
		{"3020.5887,12006.4229,,", 30 + 20.5887/60, 120 + 6.4229/60, 0, 0, 0},
		{"-3020.5887,-12006.4229,0,0", -(30 + 20.5887/60), -(120 + 6.4229/60), 0, 0, 0},
		{"0,0", 0, 0, 0, 0, 0},
		{"9000.0000,18000.0000", 90, 180, 0, 0, 0},
		{" 3020.58871 , 12006.42294 ", 30 + 20.5887/60, 120 + 6.4229/60, 0, 0, 0},
		{"9000.0001,0", 0, 0, 0, 0, ErrRange},
		{"0,18000.0001", 0, 0, 0, 0, ErrRange},
		{"3060.0,0", 0, 0, 0, 0, ErrRange},
		{"123456.0,0", 0, 0, 0, 0, ErrRange},
		{"30a0.0,0", 0, 0, 0, 0, ErrFormat},
		{"", 0, 0, 0, 0, ErrFormat},
		{"1,2,3", 0, 0, 0, 0, ErrRange},
		{"1,2,0,0,0", 0, 0, 0, 0, ErrFormat},
		{"--1,2", 0, 0, 0, 0, ErrFormat},
		{"1.2.3,2", 0, 0, 0, 0, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			g, err := ParseGPS(tc.in)
			if tc.kind != 0 {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("got %+v %v, want %v", g, err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := g.Lat - tc.lat; d > 1e-9 || d < -1e-9 {
				t.Fatalf("lat %v want %v", g.Lat, tc.lat)
			}
			if d := g.Lon - tc.lon; d > 1e-9 || d < -1e-9 {
				t.Fatalf("lon %v want %v", g.Lon, tc.lon)
			}
			if uint8(g.Business) != tc.b || uint8(g.Location) != tc.l {
				t.Fatalf("types %d %d", g.Business, g.Location)
			}
		})
	}
	// The sheet's example, to the sixth decimal.
	g, err := ParseGPS("3020.5887,12006.4229,1")
	if err != nil {
		t.Fatal(err)
	}
	if int(g.Lat*1e6+0.5) != 30343145 || int(g.Lon*1e6+0.5) != 120107048 {
		t.Fatalf("got %.6f %.6f", g.Lat, g.Lon)
	}
	s, err := FormatGPS(g)
	if err != nil || s != "3020.5887,12006.4229,1,0" {
		t.Fatalf("FormatGPS: %q %v", s, err)
	}
	if _, err := FormatGPS(GPS{Lat: 91}); !errors.Is(err, ErrRange) {
		t.Fatalf("FormatGPS(91): %v", err)
	}
}

func TestParseVehicleID(t *testing.T) {
	for _, ok := range []string{"12AB", "a", "A-b_9", strings.Repeat("x", 32), "bikes", "O"} {
		if _, err := ParseVehicleID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "bike", "o", strings.Repeat("x", 33), "a b", "a/b", "a+", "#", "é", "a.b"} {
		if _, err := ParseVehicleID(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: got %v", bad, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	specs := Specs()
	if len(specs) != 75 {
		t.Fatalf("%d specs", len(specs))
	}
	for i := 1; i < len(specs); i++ {
		if specs[i-1].Code >= specs[i].Code {
			t.Fatalf("not ordered at %d", specs[i].Code)
		}
	}
	commands := 0
	for _, s := range specs {
		m := newMessage(s.Code)
		if m == nil || m.Code() != s.Code {
			t.Errorf("%d: no type", s.Code)
			continue
		}
		_, isCmd := m.(Command)
		_, isReport := m.(Report)
		if isCmd != (s.Direction == ToScooter) || isReport != (s.Direction == FromScooter) {
			t.Errorf("%d: type direction", s.Code)
		}
		if s.Direction == ToScooter {
			commands++
			want, has := s.Code+1, true
			switch s.Code {
			case 23:
				want = 66
			case 67:
				want = 68
			case 20, 28, 58, 93:
				has = false
			}
			got, ok := ExpectedReply(s.Code)
			if ok != has || (has && got != want) {
				t.Errorf("ExpectedReply(%d) = %d %v", s.Code, got, ok)
			}
			if has {
				back, ok := ReplyTo(want)
				if !ok || back != s.Code {
					t.Errorf("ReplyTo(%d) = %d %v", want, back, ok)
				}
				if r := specFor(want); r == nil || r.Direction != FromScooter {
					t.Errorf("reply %d of %d not registered", want, s.Code)
				}
			}
			for _, f := range s.Fields {
				if !f.Required {
					t.Errorf("%d.%s not required", s.Code, f.Key)
				}
			}
		}
		for _, f := range s.Fields {
			if len(f.Key) != 1 || keyIndex(f.Key[0]) < 0 || f.Min > f.Max || f.Type == 0 || f.Meaning == "" {
				t.Errorf("%d.%s: bad field spec %+v", s.Code, f.Key, f)
			}
		}
	}
	if commands != 37 {
		t.Errorf("%d commands", commands)
	}
	for _, c := range []Code{33} {
		if s, _ := Lookup(c); !s.Deprecated {
			t.Errorf("%d not deprecated", c)
		}
	}
	for _, c := range []Code{55, 57} {
		if s, _ := Lookup(c); !s.Removed || s.Topic != TopicO {
			t.Errorf("%d not removed/o", c)
		}
	}
	if s, _ := Lookup(54); s.Topic != TopicO {
		t.Error("54 not on o")
	}
	if s, _ := Lookup(78); s.Topic != TopicVehicle {
		t.Error("78 not on the vehicle topic")
	}
	if _, ok := Lookup(17); ok {
		t.Error("17 found")
	}
	// Lookup returns copies.
	s, _ := Lookup(13)
	s.Fields[0].Max = 1
	if s2, _ := Lookup(13); s2.Fields[0].Max != 2030 {
		t.Error("Lookup leaked the table")
	}
}

func TestDecoderReusesValues(t *testing.T) {
	var d Decoder
	in := []struct{ topic, payload string }{
		{"bike", `{"a":27,"i":"12AB","b":87,"r":37.5}`},
		{"bike", `{"a":19,"i":"12AB","g":"3020.5887,12006.4229,1","t":7}`},
		{"bike", `{"a":27,"i":"99ZZ","c":1}`},
		{"12AB", `{"a":27,"b":5}`},
		{"bike", `{"a":14,"i":"12AB","s":0}`},
		{"bike", `{"a":27,"i":"12AB","b":101}`},
	}
	for _, tc := range in {
		want, wantErr := Decode(tc.topic, []byte(tc.payload))
		got, err := d.Decode(tc.topic, []byte(tc.payload))
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%s: error %v, Decode gave %v", tc.payload, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %#v, Decode gave %#v", tc.payload, got, want)
		}
	}
	hb := []byte(`{"a":27,"i":"12AB","b":87}`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode("bike", hb); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per steady-state heartbeat", allocs)
	}
}
