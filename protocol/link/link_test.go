package link

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"paris", true},
		{"gw-01_a", true},
		{"", false},
		{"Paris", false}, // subjects are case-sensitive: one spelling only
		{"pa.ris", false},
		{"*", false},
		{">", false},
		{"pa ris", false},
		{string(make([]byte, 65)), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, errC := ParseCityID(tt.in)
			_, errG := ParseGatewayID(tt.in)
			if (errC == nil) != tt.ok || (errG == nil) != tt.ok {
				t.Fatalf("ParseCityID(%q)=%v ParseGatewayID=%v, want ok=%v", tt.in, errC, errG, tt.ok)
			}
			if !tt.ok && !errors.Is(errC, ErrID) {
				t.Fatalf("error %v is not ErrID", errC)
			}
		})
	}
}

func TestNames(t *testing.T) {
	c := CityID("paris")
	got := []string{TelemetrySubject(c), EventsSubject(c), CommandSubject(c), DeadLetterSubject(c),
		ConfigBucket(c), MsgID("gw1", 7, 7), MsgID("gw1", 7, 12)}
	want := []string{"fleet.up.paris.telemetry", "fleet.up.paris.events", "fleet.cmd.paris", "fleet.dead.paris",
		"FLEET_CONFIG_paris", "gw1.7", "gw1.7-12"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestTelemetryBatchRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123_000_000, time.UTC)
	in := TelemetryBatch{
		Header: Header{V: Version, Gateway: "gw1", City: "paris"},
		Records: []Telemetry{
			{Seq: 1, Vehicle: "12AB", Time: at, Position: &Position{Lat: 48.85, Lon: 2.35, FixTime: at.Add(-time.Second)}, SpeedKmh: ptr(18.5)},
			{Seq: 5, Vehicle: "12AB", Time: at.Add(time.Second), BatteryPct: ptr(0), Status: &Status{Powered: true}},
		},
	}
	data, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeTelemetryBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, *out)
	}
	if *out.Records[1].BatteryPct != 0 || out.Records[1].VoltageV != nil {
		t.Fatal("absent and zero must stay distinguishable")
	}
	if f, l := out.SeqRange(); f != 1 || l != 5 {
		t.Fatalf("SeqRange = %d,%d", f, l)
	}
}

func TestBatchValidate(t *testing.T) {
	at := time.Unix(1_700_000_000, 0).UTC()
	ok := Header{V: Version, Gateway: "gw1", City: "paris"}
	ev := func(seq uint64, k EventKind) Event {
		e := Event{Seq: seq, Vehicle: "12AB", Time: at, Kind: k}
		switch k {
		case EventAlarm:
			e.Alarm = &AlarmEvent{Reason: "fallen"}
		case EventRideEnded:
			e.Ride = &RideEvent{RideID: "r1", EndedBy: "gateway"}
		}
		return e
	}
	tests := []struct {
		name string
		b    EventBatch
		want error
	}{
		{"ok", EventBatch{ok, []Event{ev(1, EventAlarm), ev(2, EventRideEnded)}}, nil},
		{"unknown kind passes", EventBatch{ok, []Event{ev(1, "new_kind")}}, nil},
		{"version", EventBatch{Header{V: 2, Gateway: "gw1", City: "paris"}, []Event{ev(1, EventAlarm)}}, ErrVersion},
		{"bad city", EventBatch{Header{V: 1, Gateway: "gw1", City: "a.b"}, []Event{ev(1, EventAlarm)}}, ErrInvalid},
		{"empty", EventBatch{ok, nil}, ErrInvalid},
		{"seq zero", EventBatch{ok, []Event{ev(0, EventAlarm)}}, ErrInvalid},
		{"seq order", EventBatch{ok, []Event{ev(2, EventAlarm), ev(2, EventAlarm)}}, ErrInvalid},
		{"kind without payload", EventBatch{ok, []Event{{Seq: 1, Vehicle: "12AB", Time: at, Kind: EventCommand}}}, ErrInvalid},
		{"no vehicle", EventBatch{ok, []Event{{Seq: 1, Time: at, Kind: "x"}}}, ErrInvalid},
		{"no time", EventBatch{ok, []Event{{Seq: 1, Vehicle: "v", Kind: "x"}}}, ErrInvalid},
		{"no kind", EventBatch{ok, []Event{{Seq: 1, Vehicle: "v", Time: at}}}, ErrInvalid},
		{"seq beyond int64", EventBatch{ok, []Event{{Seq: 1 << 63, Vehicle: "v", Time: at, Kind: "x"}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeGarbage(t *testing.T) {
	for _, in := range []string{"", "{", "[]", `{"v":1}`, `{"v":"x"}`, "\x00\xff"} {
		if _, err := DecodeTelemetryBatch([]byte(in)); err == nil {
			t.Errorf("DecodeTelemetryBatch(%q) accepted", in)
		}
		if _, err := DecodeEventBatch([]byte(in)); err == nil {
			t.Errorf("DecodeEventBatch(%q) accepted", in)
		}
	}
}

func TestCommandRequestValidate(t *testing.T) {
	base := CommandRequest{V: Version, ID: "c1", Vehicle: "12AB", Code: 13,
		Fields: map[string]json.RawMessage{"k": json.RawMessage("2020")}, Source: "admin:7"}
	tests := []struct {
		name string
		mod  func(*CommandRequest)
		want error
	}{
		{"ok", func(*CommandRequest) {}, nil},
		{"version", func(r *CommandRequest) { r.V = 0 }, ErrVersion},
		{"no id", func(r *CommandRequest) { r.ID = "" }, ErrInvalid},
		{"no vehicle", func(r *CommandRequest) { r.Vehicle = "" }, ErrInvalid},
		{"code", func(r *CommandRequest) { r.Code = 0 }, ErrInvalid},
		{"timeout", func(r *CommandRequest) { r.TimeoutMs = -1 }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.mod(&r)
			if err := r.Validate(); tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestConfigDocsValidate(t *testing.T) {
	vd := VehiclesDoc{V: 1, City: "paris", Version: 3, Vehicles: []VehicleConfig{
		{ID: "12AB", CredentialHash: "sha256:00", NormalLimitKmh: 25},
	}}
	if err := vd.Validate(); err != nil {
		t.Fatal(err)
	}
	dup := vd
	dup.Vehicles = append(append([]VehicleConfig{}, vd.Vehicles...), vd.Vehicles[0])
	bad := []interface{ Validate() error }{
		&dup,
		&VehiclesDoc{V: 1, City: "paris", Version: 0},
		&VehiclesDoc{V: 1, City: "paris", Version: 1, Vehicles: []VehicleConfig{{ID: "x", CredentialHash: "h", NormalLimitKmh: 31}}},
		&VehiclesDoc{V: 1, City: "paris", Version: 1, Vehicles: []VehicleConfig{{ID: "x"}}},
		&ZonesDoc{V: 1, City: "paris", Version: 1},
		&TariffsDoc{V: 1, City: "paris", Version: 1, Tariffs: []Tariff{{ID: "t", Currency: "EU"}}},
		&TariffsDoc{V: 1, City: "paris", Version: 1, Tariffs: []Tariff{{ID: "t", Currency: "EUR", PerMinute: -1}}},
		&TariffsDoc{V: 1, City: "paris", Version: 1, Tariffs: []Tariff{{ID: "t", Currency: "EUR",
			EffectiveFrom: time.Unix(10, 0), EffectiveTo: time.Unix(5, 0)}}},
	}
	for i, d := range bad {
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: Validate() = %v, want ErrInvalid", i, err)
		}
	}
	zd := ZonesDoc{V: 1, City: "paris", Version: 1, Geofence: json.RawMessage(`{}`)}
	if err := zd.Validate(); err != nil {
		t.Fatal(err)
	}
}
