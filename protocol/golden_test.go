package protocol

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/decode")

type goldenCase struct {
	name    string
	topic   string
	payload string
}

// goldenCases: at least one per message code, every example of PROTOCOL.md,
// and every quirk. The names start with the code so the files sort by it.
var goldenCases = []goldenCase{
	{"001-power-on", "12AB", `{"a":1}`},
	{"002-power-on-reply", "bike", `{"a":2,"i":"12AB","t":1503046415,"s":0,"n":17}`},
	{"003-power-off", "12AB", `{"a":3}`},
	{"004-power-off-reply", "bike", `{"a":4,"i":"12AB","t":77,"s":2,"n":18}`},
	{"005-clear-ride-mileage", "12AB", `{"a":5}`},
	{"006-clear-ride-mileage-reply", "bike", `{"a":6,"i":"12AB","t":1,"s":3,"n":2}`},
	{"007-clear-ride-time", "12AB", `{"a":7}`},
	{"008-clear-ride-time-reply", "bike", `{"a":8,"i":"12AB","t":1,"s":0,"n":2}`},
	{"009-clear-total-mileage", "12AB", `{"a":9}`},
	{"010-clear-total-mileage-reply", "bike", `{"a":10,"i":"12AB","t":1,"s":1,"n":2}`},
	{"011-clear-total-time", "12AB", `{"a":11}`},
	{"012-clear-total-time-reply", "bike", `{"a":12,"i":"12AB","t":1,"s":0,"n":2}`},
	{"013-set-speed-limit", "12AB", `{"a":13,"k":2020}`},
	{"013-set-speed-limit-stop", "12AB", `{"a":13,"k":2000}`},
	{"014-set-speed-limit-reply-trailing-comma", "bike", `{"a":14,"i":"12AB","t":1503046415,"s":0,}`},
	{"015-query-params", "12AB", `{"a":15}`},
	{"016-vehicle-params", "bike", `{"a":16,"i":"12AB","s":0,"k":25,"p":12.5,"e":0,"b":80,"y":360000,"q":1234.5,"w":600,"z":3.2,"c":0}`},
	{"016-vehicle-params-error-code", "bike", `{"a":16,"i":"12AB","s":0,"k":2020,"p":0,"e":8,"b":3,"y":1,"q":1,"w":0,"z":0,"c":1}`},
	{"018-query-gps", "12AB", `{"a":18}`},
	{"019-gps-report", "bike", `{"a":19,"i":"12AB","g":"3020.5887,12006.4229,0,0","t":1503046415}`},
	{"019-gps-report-sheet-three-fields", "bike", `{"a":19,"i":"12AB","g":"3020.5887,12006.4229,1","t":1503046415}`},
	{"019-gps-report-south-west-lbs", "bike", `{"a":19,"i":"12AB","g":"-3352.1234,-15112.5000,0,1","t":1503046415}`},
	{"019-gps-report-unquoted", "bike", `{"a":19,"i":"12AB","g":3020.5887,12006.4229,1,0,"t":1503046415}`},
	{"020-reboot", "12AB", `{"a":20}`},
	{"021-query-version", "12AB", `{"a":21}`},
	{"022-version-reply", "bike", `{"a":22,"i":"12AB","h":"HW1.2","f":"FW3.4.5","c":"89860012345678901234","m":"861234567890123","s":0,"t":99}`},
	{"022-version-reply-imei-number", "bike", `{"a":22,"i":"12AB","h":"HW1.2","f":"FW3.4.5","c":"8986001234","m":8612345678901234,"s":1,"t":99}`},
	{"023-start-upgrade", "12AB", `{"a":23,"l":120}`},
	{"024-query-imei", "12AB", `{"a":24}`},
	{"025-imei-reply-number", "bike", `{"a":25,"i":"12AB","h":8612345678901234,"t":5}`},
	{"025-imei-reply-string", "bike", `{"a":25,"i":"12AB","h":"0861234567890123","t":5}`},
	{"027-heartbeat", "bike", `{"a":27,"i":"12AB","b":87,"c":1,"s":0,"r":37.5,"v":25,"x":3}`},
	{"027-heartbeat-decimals-spaces-unknown", "bike", "{ \"a\" : 27 , \"i\":\"12AB\", \"b\":87.0,\"c\":0,\"s\":1,\"r\":48,\"v\":25,\"x\":1, \"extra\":{\"k\":[1,2,\"}\"]}, \"zz\":\"ignored\" }\n"},
	{"028-buzzer", "12AB", `{"a":28}`},
	{"033-set-server-params-legacy-unquoted", "12AB", `{"a":33,"u":18.180.156.177,1844,00012,30,10,3}`},
	{"034-set-server-params-legacy-reply", "bike", `{"a":34,"i":"12AB","s":0}`},
	{"035-query-server-params", "12AB", `{"a":35}`},
	{"036-server-params-reply", "bike", `{"a":36,"i":"12AB","u":"18.180.156.177,1883,user,pass,12AB,30"}`},
	{"036-server-params-reply-unquoted", "bike", `{"a":36,"i":"12AB","u":18.180.156.177,1883,user,pass,12AB,30}`},
	{"037-set-headlight", "12AB", `{"a":37,"d":1}`},
	{"038-set-headlight-reply", "bike", `{"a":38,"i":"12AB","s":0}`},
	{"039-set-vibration", "12AB", `{"a":39,"v":25}`},
	{"040-set-vibration-reply", "bike", `{"a":40,"i":"12AB","s":0}`},
	{"041-set-distance-unit", "12AB", `{"a":41,"f":1}`},
	{"042-set-distance-unit-reply", "bike", `{"a":42,"i":"12AB","s":1}`},
	{"043-set-lamp-mode", "12AB", `{"a":43,"j":0}`},
	{"044-set-lamp-mode-reply", "bike", `{"a":44,"i":"12AB","s":0}`},
	{"049-set-assist-level", "12AB", `{"a":49,"k":2}`},
	{"050-set-assist-level-reply", "bike", `{"a":50,"i":"12AB","s":0}`},
	{"053-set-apn-unescaped-quotes", "12AB", `{"a":53,"z":"AT+QICSGP=15,1,"apn","user","pass",0"}`},
	{"053-set-apn-empty-credentials", "12AB", `{"a":53,"z":"AT+QICSGP=15,1,"internet","","",0"}`},
	{"054-set-apn-reply-on-o", "o", `{"a":54,"i":"12AB","s":0}`},
	{"055-status-params-removed", "o", `{"a":55,"i":"12AB","s":0,"r":37.5}`},
	{"057-vibration-detected-removed", "o", `{"a":57,"i":"12AB","s":1}`},
	{"058-special-buzzer-i-is-ring-ms", "12AB", `{"a":58,"v":3,"i":500,"L":200}`},
	{"060-battery-unlock", "12AB", `{"a":60}`},
	{"061-battery-unlock-reply", "bike", `{"a":61,"i":"12AB","s":2}`},
	{"062-battery-lock", "12AB", `{"a":62}`},
	{"063-battery-lock-reply", "bike", `{"a":63,"i":"12AB","s":0}`},
	{"066-start-upgrade-reply", "bike", `{"a":66,"i":"12AB","s":0}`},
	{"067-firmware-package", "12AB", `{"a":67,"x":0,"l":4,"d":"deadBEEF"}`},
	{"068-firmware-package-reply", "bike", `{"a":68,"i":"12AB","x":0,"s":1}`},
	{"069-upgrade-result", "bike", `{"a":69,"i":"12AB","s":0}`},
	{"071-chain-unlock", "12AB", `{"a":71}`},
	{"072-chain-unlock-reply", "bike", `{"a":72,"i":"12AB","s":0}`},
	{"073-pause", "12AB", `{"a":73}`},
	{"074-pause-reply", "bike", `{"a":74,"i":"12AB","s":1}`},
	{"075-resume", "12AB", `{"a":75}`},
	{"076-resume-reply", "bike", `{"a":76,"i":"12AB","s":0}`},
	{"077-query-log", "12AB", `{"a":77}`},
	{"078-log-reply-on-vehicle-topic", "12AB", `{"a":78,"i":"12AB","b":"boot ok","c":"net \"up\"","d":"","e":"e","f":"f","g":"gps fix"}`},
	{"078-log-reply-without-i", "12AB", `{"a":78,"b":"only b"}`},
	{"083-query-chain-lock", "12AB", `{"a":83}`},
	{"084-chain-lock-state", "bike", `{"a":84,"i":"12AB","s":1}`},
	{"088-vibration-check", "bike", `{"a":88,"i":"12AB","s":0}`},
	{"093-reboot-if-updated", "12AB", `{"a":93}`},
	{"097-query-signal", "12AB", `{"a":97}`},
	{"098-signal-reply", "bike", `{"a":98,"i":"12AB","x":23}`},
	{"101-set-server-params", "12AB", `{"a":101,"u":"18.180.156.177:1883:user:pass:"}`},
	{"101-set-server-params-unquoted", "12AB", `{"a":101,"u":18.180.156.177:1883:user:pass:}`},
	{"102-set-server-params-reply-empty-s", "bike", `{"a":102,"i":"12AB","s":}`},
	{"102-set-server-params-reply-null-s", "bike", `{"a":102,"i":"12AB","s":null,"t":"42"}`},
	{"103-set-serial-number-unquoted", "12AB", `{"a":103,"u":SN123:}`},
	{"104-set-serial-number-reply", "bike", `{"a":104,"i":"12AB","s":0}`},
	{"105-motor-unlock", "12AB", `{"a":105}`},
	{"106-motor-unlock-reply", "bike", `{"a":106,"i":"12AB","s":0}`},
	{"107-motor-lock", "12AB", `{"a":107}`},
	{"108-motor-lock-reply", "bike", `{"a":108,"i":"12AB","s":0}`},
	// Replies on unexpected topics are accepted.
	{"014-reply-on-o", "o", `{"a":14,"i":"12AB","t":1,"s":0}`},
	{"027-heartbeat-on-vehicle-topic", "12AB", `{"a":27,"i":"12AB","b":50}`},
	// Errors are golden too.
	{"err-unknown-code", "bike", `{"a":17,"i":"12AB"}`},
	{"err-missing-i", "bike", `{"a":27,"b":50}`},
	{"err-garbage", "bike", `not json`},
	{"err-gps-minutes", "bike", `{"a":19,"i":"12AB","g":"3060.0000,12006.4229,0,0","t":1}`},
	{"err-command-on-bike", "bike", `{"a":13,"k":2020}`},
}

type goldenFile struct {
	Topic     string          `json:"topic"`
	Payload   string          `json:"payload"`
	Type      string          `json:"type,omitempty"`
	Code      Code            `json:"code,omitempty"`
	Name      string          `json:"name,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
	Reencoded string          `json:"reencoded,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// reencode encodes m in the normal form and the topic it was decoded from.
func reencode(t testing.TB, topic string, m Message) []byte {
	t.Helper()
	var p Packet
	var err error
	switch x := m.(type) {
	case Report:
		p, err = EncodeReport(x, Quirks{})
	case Command:
		p, err = EncodeCommand(VehicleID(topic), x)
	}
	if err != nil {
		t.Fatalf("re-encode %T: %v", m, err)
	}
	return p.Payload
}

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			if seen[tc.name] {
				t.Fatalf("duplicate case name")
			}
			seen[tc.name] = true
			g := goldenFile{Topic: tc.topic, Payload: tc.payload}
			m, err := Decode(tc.topic, []byte(tc.payload))
			if err != nil {
				g.Error = err.Error()
			} else {
				g.Type = fmt.Sprintf("%T", m)
				g.Code = m.Code()
				g.Name = m.Code().String()
				v, jerr := json.Marshal(m)
				if jerr != nil {
					t.Fatal(jerr)
				}
				g.Value = v
				re := reencode(t, tc.topic, m)
				g.Reencoded = string(re)
				m2, err := Decode(tc.topic, re)
				if err != nil {
					t.Fatalf("decode of re-encoded %s: %v", re, err)
				}
				if !reflect.DeepEqual(m, m2) {
					t.Fatalf("re-encode round trip differs:\n%#v\n%#v", m, m2)
				}
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "decode", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("golden mismatch for %s\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// TestGoldenCoversEveryCode: every registry code has a golden case.
func TestGoldenCoversEveryCode(t *testing.T) {
	covered := map[Code]bool{}
	for _, tc := range goldenCases {
		if m, err := Decode(tc.topic, []byte(tc.payload)); err == nil {
			covered[m.Code()] = true
		}
	}
	for _, s := range Specs() {
		if !covered[s.Code] {
			t.Errorf("no successful golden case for %d %s", s.Code, s.Name)
		}
	}
}
