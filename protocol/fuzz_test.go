package protocol

import (
	"errors"
	"reflect"
	"testing"
)

// Fuzz targets: every decoder must not panic, must return either a message
// or a typed error, and a successful decode must re-encode (normal form and
// any quirks) to bytes that decode to the same value.

func addGoldenSeeds(f *testing.F, add func(tc goldenCase)) {
	for _, tc := range goldenCases {
		add(tc)
	}
}

func quirksFromBits(b uint16) Quirks {
	return Quirks{
		UnquotedStrings: b&1 != 0,
		RawQuotes:       b&2 != 0,
		TrailingComma:   b&4 != 0,
		NumericIMEI:     b&8 != 0,
		Decimals:        b&16 != 0,
		ShortGPS:        b&32 != 0,
		EmptyValues:     FieldMask(b>>6) * 0x0101_0101, // spread over keys
	}
}

func checkTyped(t *testing.T, err error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) || de.Kind == 0 || de.Kind > ErrDirection {
		t.Fatalf("untyped error %T %v", err, err)
	}
}

func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f, func(tc goldenCase) { f.Add(tc.topic, []byte(tc.payload), uint16(0)) })
	f.Add("bike", []byte(`{"a":27,"i":"12AB","b":87,"c":1,"s":0,"r":37.5,"v":25,"x":3}`), uint16(0xffff))
	f.Add("o", []byte(`{"a":54,"i":x,"s":,"t":"1",}`), uint16(7))
	f.Fuzz(func(t *testing.T, topic string, payload []byte, bits uint16) {
		m, err := Decode(topic, payload)
		var d Decoder
		dm, derr := d.Decode(topic, payload)
		if (err == nil) != (derr == nil) || (err == nil && !reflect.DeepEqual(m, dm)) {
			t.Fatalf("Decoder differs from Decode: %v %v", err, derr)
		}
		if err != nil {
			if m != nil {
				t.Fatal("message with error")
			}
			checkTyped(t, err)
			return
		}
		for _, q := range []Quirks{{}, quirksFromBits(bits)} {
			var p []byte
			switch x := m.(type) {
			case Report:
				p, err = AppendReport(nil, x, q)
			case Command:
				p, err = AppendCommand(nil, x, q)
			default:
				t.Fatalf("%T is neither", m)
			}
			if err != nil {
				t.Fatalf("re-encode %#v with %+v: %v", m, q, err)
			}
			m2, err := Decode(topic, p)
			if err != nil {
				t.Fatalf("decode of re-encoded %q (from %q): %v", p, payload, err)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("round trip differs for %q -> %q:\n%#v\n%#v", payload, p, m, m2)
			}
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	addGoldenSeeds(f, func(tc goldenCase) { f.Add([]byte(tc.payload), uint16(0)) })
	f.Fuzz(func(t *testing.T, payload []byte, bits uint16) {
		c, err := DecodeCommand(payload)
		if err != nil {
			checkTyped(t, err)
			return
		}
		if err := Validate(c); err != nil {
			t.Fatalf("decoded command invalid: %v", err)
		}
		for _, q := range []Quirks{{}, quirksFromBits(bits)} {
			p, err := EncodeCommandQuirks("12AB", c, q)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			c2, err := DecodeCommand(p.Payload)
			if err != nil || !reflect.DeepEqual(c, c2) {
				t.Fatalf("round trip %q -> %q: %v\n%#v\n%#v", payload, p.Payload, err, c, c2)
			}
		}
	})
}

func FuzzParseGPS(f *testing.F) {
	for _, s := range []string{"3020.5887,12006.4229,1", "-3352.1234,-15112.5000,0,1", "0,0", "9000,18000,1,1", "3060,0", " 1 , 2 ,,", "1.99999,2.000051"} {
		f.Add(s)
	}
	// Every g of the golden inputs, as it appears in the payload.
	for _, tc := range goldenCases {
		var obj rawObject
		if scanObject([]byte(tc.payload), &obj) == nil {
			if r := obj.v[keyIndex('g')]; r.flags&rvPresent != 0 {
				f.Add(tc.payload[r.start:r.end])
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGPS(s)
		if err != nil {
			checkTyped(t, err)
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("parsed %q to invalid %+v: %v", s, g, err)
		}
		out, err := FormatGPS(g)
		if err != nil {
			t.Fatal(err)
		}
		g2, err := ParseGPS(out)
		if err != nil || g2 != g {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", s, g, out, g2, err)
		}
	})
}

func FuzzParseVehicleID(f *testing.F) {
	for _, s := range []string{"12AB", "bike", "o", "", "a b", "x-_9", "null"} {
		f.Add(s)
	}
	for _, tc := range goldenCases {
		f.Add(tc.topic)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVehicleID(s)
		if err != nil {
			checkTyped(t, err)
			return
		}
		// A valid vehicle number is a valid topic for Decode and EncodeCommand.
		if _, err := EncodeCommand(v, &PowerOn{}); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if _, err := Decode(string(v), []byte(`{"a":78}`)); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}

func FuzzNewCommand(f *testing.F) {
	f.Add(13, "k", "2020", int64(0))
	f.Add(101, "u", "h:1:u:p:", int64(0))
	f.Add(53, "z", `AT+QICSGP=15,1,"a","","",0`, int64(0))
	f.Add(67, "d", "00ff", int64(2))
	f.Fuzz(func(t *testing.T, code int, key, sval string, ival int64) {
		fields := map[string]any{key: sval}
		if s := specFor(Code(code)); s != nil {
			for _, fs := range s.Fields {
				if fs.Key != key {
					fields[fs.Key] = ival
				}
			}
		}
		c, err := NewCommand(Code(code), fields)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Kind == 0 {
				t.Fatalf("untyped error %T %v", err, err)
			}
			return
		}
		p, err := EncodeCommand("12AB", c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeCommand(p.Payload)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("%q: %v", p.Payload, err)
		}
	})
}
