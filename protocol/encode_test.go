package protocol

import (
	"errors"
	"strings"
	"testing"
)

// must is for table literals: a constructor error there is a bug in the test.
func must[T Command](c T, err error) T {
	if err != nil {
		panic(err)
	}
	return c
}

// TestEncodeCommandExact pins the bytes the firmware receives.
func TestEncodeCommandExact(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		q    Quirks
		want string
		qos  byte
	}{
		{"speed limit 20", must(NewSetSpeedLimit(20)), Quirks{}, `{"a":13,"k":2020}`, 1},
		{"speed limit 0", must(NewSetSpeedLimit(0)), Quirks{}, `{"a":13,"k":2000}`, 1},
		{"power on", &PowerOn{}, Quirks{}, `{"a":1}`, 0},
		{"power off", &PowerOff{}, Quirks{}, `{"a":3}`, 1},
		{"assist", must(NewSetAssistLevel(2)), Quirks{}, `{"a":49,"k":2}`, 1},
		{"headlight", NewSetHeadlight(true), Quirks{}, `{"a":37,"d":1}`, 0},
		{"vibration", must(NewSetVibration(25)), Quirks{}, `{"a":39,"v":25}`, 0},
		{"km", must(NewSetDistanceUnit(Miles)), Quirks{}, `{"a":41,"f":1}`, 0},
		{"lamp", must(NewSetLampMode(LampAlwaysOn)), Quirks{}, `{"a":43,"j":1}`, 0},
		{"upgrade", must(NewStartUpgrade(3)), Quirks{}, `{"a":23,"l":3}`, 0},
		{"package", must(NewFirmwarePackage(7, []byte{0xde, 0xad})), Quirks{}, `{"a":67,"x":7,"l":2,"d":"dead"}`, 0},
		{"buzzer", must(NewSpecialBuzzer(3, 500, 200)), Quirks{}, `{"a":58,"v":3,"i":500,"L":200}`, 0},
		{"apn raw quotes (sheet)", must(NewSetAPN("apn", "user", "pass")), Quirks{},
			`{"a":53,"z":"AT+QICSGP=15,1,"apn","user","pass",0"}`, 0},
		{"server params", must(NewSetServerParams("18.180.156.177", 1883, "user", "pass")), Quirks{},
			`{"a":101,"u":"18.180.156.177:1883:user:pass:"}`, 0},
		{"server params unquoted (sheet)", must(NewSetServerParams("18.180.156.177", 1883, "user", "pass")),
			Quirks{UnquotedStrings: true}, `{"a":101,"u":18.180.156.177:1883:user:pass:}`, 0},
		{"serial unquoted (sheet)", must(NewSetSerialNumber("SN123")), Quirks{UnquotedStrings: true}, `{"a":103,"u":SN123:}`, 0},
		{"legacy unquoted (sheet)", must(NewSetServerParamsLegacy("18.180.156.177", 1844, "00012", 30, 10, 3)),
			Quirks{UnquotedStrings: true}, `{"a":33,"u":18.180.156.177,1844,00012,30,10,3}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := EncodeCommandQuirks("12AB", tc.c, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if string(p.Payload) != tc.want || p.Topic != "12AB" || p.QoS != tc.qos {
				t.Fatalf("got %s on %s QoS %d, want %s QoS %d", p.Payload, p.Topic, p.QoS, tc.want, tc.qos)
			}
			back, err := DecodeCommand(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if back.Code() != tc.c.Code() {
				t.Fatalf("decoded code %d", back.Code())
			}
		})
	}
}

// TestEncodeReportQuirks reproduces PROTOCOL.md's scooter-side examples byte for byte.
func TestEncodeReportQuirks(t *testing.T) {
	mask := func(keys string) FieldMask {
		var m FieldMask
		for i := 0; i < len(keys); i++ {
			m = m.With(keys[i])
		}
		return m
	}
	tests := []struct {
		name  string
		r     Report
		q     Quirks
		want  string
		topic string
	}{
		{"trailing comma", &SetSpeedLimitReply{Header{From: "12AB", Present: mask("aits")}, Ack{Nonce: 1503046415}},
			Quirks{TrailingComma: true}, `{"a":14,"i":"12AB","t":1503046415,"s":0,}`, "bike"},
		{"empty value", &SetServerParamsReply{Header: Header{From: "12AB", Present: mask("ai")}},
			Quirks{EmptyValues: mask("s")}, `{"a":102,"i":"12AB","s":}`, "bike"},
		{"imei as number", &IMEIReply{Header{From: "12AB", Present: mask("aiht")}, "8612345678901234", 5},
			Quirks{NumericIMEI: true}, `{"a":25,"i":"12AB","h":8612345678901234,"t":5}`, "bike"},
		{"heartbeat decimals", &Heartbeat{Header: Header{From: "12AB"}, Battery: 87, Power: 1, Voltage: 37.5, Vibration: 25, Station: 3},
			Quirks{}, `{"a":27,"i":"12AB","b":87,"c":1,"s":0,"r":37.5,"v":25,"x":3}`, "bike"},
		{"heartbeat all decimals", &Heartbeat{Header: Header{From: "12AB"}, Battery: 87, Voltage: 48},
			Quirks{Decimals: true}, `{"a":27,"i":"12AB","b":87.0,"c":0.0,"s":0.0,"r":48.0,"v":0.0,"x":0.0}`, "bike"},
		{"gps sheet form", &GPSReport{Header{From: "12AB"}, GPS{Lat: 30.343145, Lon: 120.10704833333334, Business: 1}, 1503046415},
			Quirks{ShortGPS: true}, `{"a":19,"i":"12AB","g":"3020.5887,12006.4229,1","t":1503046415}`, "bike"},
		{"apn reply on o", &SetAPNReply{Header{From: "12AB", Present: mask("ais")}, Ack{}},
			Quirks{}, `{"a":54,"i":"12AB","s":0}`, "o"},
		{"log on vehicle topic", &LogReply{Header: Header{From: "12AB", Present: mask("aib")}, B: `say "hi"`},
			Quirks{RawQuotes: true}, `{"a":78,"i":"12AB","b":"say "hi""}`, "12AB"},
		{"unquoted i and params", &ServerParamsReply{Header: Header{From: "12AB", Present: mask("aiu")}, Params: "1.2.3.4,1883,u,p,12AB,30"},
			Quirks{UnquotedStrings: true}, `{"a":36,"i":12AB,"u":1.2.3.4,1883,u,p,12AB,30}`, "bike"},
		{"unsafe unquoted falls back", &ServerParamsReply{Header: Header{From: "12AB", Present: mask("aiu")}, Params: `x","s":1`},
			Quirks{UnquotedStrings: true, RawQuotes: true}, `{"a":36,"i":12AB,"u":"x\",\"s\":1"}`, "bike"},
		{"raw quotes kept when safe", &ServerParamsReply{Header: Header{From: "12AB", Present: mask("aiu")}, Params: `x,"s":1`},
			Quirks{RawQuotes: true}, `{"a":36,"i":"12AB","u":"x,"s":1"}`, "bike"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := EncodeReport(tc.r, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if string(p.Payload) != tc.want || p.Topic != tc.topic {
				t.Fatalf("got %s on %s\nwant %s on %s", p.Payload, p.Topic, tc.want, tc.topic)
			}
			if _, err := Decode(p.Topic, p.Payload); err != nil {
				t.Fatalf("own output does not decode: %v", err)
			}
		})
	}
}

func TestConstructorErrors(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		kind  ErrorKind
		field string
	}{
		{"speed 31", second(NewSetSpeedLimit(31)), ErrRange, "k"},
		{"speed -1", second(NewSetSpeedLimit(-1)), ErrRange, "k"},
		{"vibration 100", second(NewSetVibration(100)), ErrRange, "v"},
		{"assist 3", second(NewSetAssistLevel(3)), ErrRange, "k"},
		{"unit 2", second(NewSetDistanceUnit(2)), ErrRange, "f"},
		{"lamp -1", second(NewSetLampMode(-1)), ErrRange, "j"},
		{"packages 0", second(NewStartUpgrade(0)), ErrRange, "l"},
		{"package empty", second(NewFirmwarePackage(0, nil)), ErrRange, "l"},
		{"package too big", second(NewFirmwarePackage(0, make([]byte, 1025))), ErrRange, "l"},
		{"package serial", second(NewFirmwarePackage(70000, []byte{1})), ErrRange, "x"},
		{"apn quote", second(NewSetAPN(`a"b`, "", "")), ErrFormat, "z"},
		{"apn comma", second(NewSetAPN("a", "u,v", "")), ErrFormat, "z"},
		{"apn empty", second(NewSetAPN("", "", "")), ErrFormat, "z"},
		{"server host colon", second(NewSetServerParams("a:b", 1, "", "")), ErrFormat, "u"},
		{"server port 0", second(NewSetServerParams("host", 0, "", "")), ErrFormat, "u"},
		{"server user colon", second(NewSetServerParams("host", 1, "u:x", "")), ErrFormat, "u"},
		{"server pass quote", second(NewSetServerParams("host", 1, "u", `p"`)), ErrFormat, "u"},
		{"legacy vehicle", second(NewSetServerParamsLegacy("1.2.3.4", 1, "bad id", 30, 10, 3)), ErrFormat, "u"},
		{"legacy retries", second(NewSetServerParamsLegacy("1.2.3.4", 1, "12AB", 30, 10, 0)), ErrFormat, "u"},
		{"serial empty", second(NewSetSerialNumber("")), ErrFormat, "u"},
		{"serial colon", second(NewSetSerialNumber("a:b")), ErrFormat, "u"},
		{"buzzer rings 0", second(NewSpecialBuzzer(0, 1, 0)), ErrRange, "v"},
		{"buzzer ms", second(NewSpecialBuzzer(1, 70000, 0)), ErrRange, "i"},
		{"generic unknown code", second(NewCommand(17, nil)), ErrUnknownCode, "a"},
		{"generic reply code", second(NewCommand(14, nil)), ErrDirection, "a"},
		{"generic unknown field", second(NewCommand(13, map[string]any{"k": 2020, "q": 1})), ErrUnknownField, "q"},
		{"generic missing", second(NewCommand(13, map[string]any{})), ErrMissingField, "k"},
		{"generic range", second(NewCommand(13, map[string]any{"k": 2031})), ErrRange, "k"},
		{"generic type", second(NewCommand(13, map[string]any{"k": []int{1}})), ErrType, "k"},
		{"generic fraction", second(NewCommand(13, map[string]any{"k": 2020.5})), ErrType, "k"},
		{"generic string for int", second(NewCommand(13, map[string]any{"k": "fast"})), ErrSyntax, "k"},
		{"generic a mismatch", second(NewCommand(13, map[string]any{"a": 14, "k": 2020})), ErrRange, "a"},
		{"generic injection", second(NewCommand(101, map[string]any{"u": `h:1:u:p:","x":"`})), ErrFormat, "u"},
		{"generic hex", second(NewCommand(67, map[string]any{"x": 1, "l": 1, "d": "zz"})), ErrFormat, "d"},
		{"generic l mismatch", second(NewCommand(67, map[string]any{"x": 1, "l": 2, "d": "00"})), ErrFormat, "l"},
		{"encode bad vehicle", second(EncodeCommand("bike", &PowerOn{})), ErrFormat, "i"},
		{"encode report bad vehicle", second(EncodeReport(&Heartbeat{Header: Header{From: "a b"}}, Quirks{})), ErrFormat, "i"},
		{"encode report range", second(EncodeReport(&Heartbeat{Header: Header{From: "1"}, Battery: 101}, Quirks{})), ErrRange, "b"},
		{"encode report gps", second(EncodeReport(&GPSReport{Header: Header{From: "1"}, Position: GPS{Lat: 91}}, Quirks{})), ErrRange, "g"},
		{"encode report too large", second(EncodeReport(&LogReply{Header: Header{From: "1"},
			B: strings.Repeat("\x01", 1024), C: strings.Repeat("\x01", 1024)}, Quirks{})), ErrTooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.kind) {
				t.Fatalf("got %v, want kind %v", tc.err, tc.kind)
			}
			var ve *ValidationError
			if !errors.As(tc.err, &ve) {
				t.Fatalf("%T is not a *ValidationError", tc.err)
			}
			if ve.Field != tc.field {
				t.Fatalf("field %q, want %q (%v)", ve.Field, tc.field, tc.err)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestNewCommandAcceptsJSONishValues(t *testing.T) {
	c, err := NewCommand(CodeSetSpeedLimit, map[string]any{"a": float64(13), "k": float64(2025)})
	if err != nil {
		t.Fatal(err)
	}
	if sl, ok := c.(*SetSpeedLimit); !ok || sl.KMH != 25 {
		t.Fatalf("got %#v", c)
	}
	c, err = NewCommand(CodeFirmwarePackage, map[string]any{"x": "3", "l": 2, "d": []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if fp := c.(*FirmwarePackage); fp.Serial != 3 || string(fp.Data) != "\x01\x02" {
		t.Fatalf("got %#v", fp)
	}
	c, err = NewCommand(CodeSetAPN, map[string]any{"z": `AT+QICSGP=15,1,"cmnet","","",0`})
	if err != nil {
		t.Fatal(err)
	}
	if apn := c.(*SetAPN); apn.APN != "cmnet" {
		t.Fatalf("got %#v", apn)
	}
}

// TestLargestMessagesFit: the largest legitimate messages fit MaxPayload.
func TestLargestMessagesFit(t *testing.T) {
	pkg, err := NewFirmwarePackage(65535, make([]byte, MaxPackageData))
	if err != nil {
		t.Fatal(err)
	}
	p, err := EncodeCommand("12AB", pkg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeCommand(p.Payload); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1024)
	v := VehicleID(strings.Repeat("V", MaxVehicleIDLen))
	r := &LogReply{Header: Header{From: v}, Nonce: -1 << 63, B: long, C: long, D: long, E: long, F: long, G: long}
	rp, err := EncodeReport(r, Quirks{TrailingComma: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Payload) > MaxPayload {
		t.Fatalf("%d bytes", len(rp.Payload))
	}
	if _, err := Decode(string(v), rp.Payload); err != nil {
		t.Fatal(err)
	}
}

func TestNewReportAndNewMessage(t *testing.T) {
	r, err := NewReport(CodeHeartbeat, "12AB", map[string]any{"b": 87, "r": 37.5})
	if err != nil {
		t.Fatal(err)
	}
	hb := r.(*Heartbeat)
	if hb.Battery != 87 || hb.Voltage != 37.5 || hb.From != "12AB" || hb.Fields().String() != "abir" {
		t.Fatalf("got %#v", hb)
	}
	p, err := EncodeReport(r, Quirks{})
	if err != nil || string(p.Payload) != `{"a":27,"i":"12AB","b":87,"r":37.5}` || p.Topic != "bike" || p.QoS != 1 {
		t.Fatalf("%s %v", p.Payload, err)
	}
	if _, err := NewReport(CodeHeartbeat, "12AB", map[string]any{"b": 101}); !errors.Is(err, ErrRange) {
		t.Fatalf("got %v", err)
	}
	if _, err := NewReport(CodePowerOn, "12AB", nil); !errors.Is(err, ErrDirection) {
		t.Fatalf("got %v", err)
	}
	if _, err := NewReport(CodeHeartbeat, "bike", nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("got %v", err)
	}
	if _, err := NewReport(CodeHeartbeat, "12AB", map[string]any{"zz": 1}); !errors.Is(err, ErrUnknownField) {
		t.Fatalf("got %v", err)
	}
	for _, s := range Specs() {
		m, ok := NewMessage(s.Code)
		if !ok || m.Code() != s.Code {
			t.Fatalf("NewMessage(%d)", s.Code)
		}
	}
	if _, ok := NewMessage(17); ok {
		t.Fatal("NewMessage(17)")
	}
}
