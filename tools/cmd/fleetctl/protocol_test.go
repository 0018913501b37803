package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestProtocolListJSON(t *testing.T) {
	stdout, stderr, status := runCLI(t, "protocol", "list", "--json")
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	var specs []specJSON
	if err := json.Unmarshal([]byte(stdout), &specs); err != nil {
		t.Fatal(err)
	}
	byCode := map[int]specJSON{}
	for _, s := range specs {
		byCode[s.Code] = s
	}
	// Every command of PROTOCOL.md, with its reply where it has one.
	commands := map[int]int{1: 2, 3: 4, 5: 6, 7: 8, 9: 10, 11: 12, 13: 14, 15: 16, 18: 19, 20: 0, 21: 22, 23: 66,
		24: 25, 28: 0, 33: 34, 35: 36, 37: 38, 39: 40, 41: 42, 43: 44, 49: 50, 53: 54, 58: 0, 60: 61, 62: 63,
		67: 68, 71: 72, 73: 74, 75: 76, 77: 78, 83: 84, 93: 0, 97: 98, 101: 102, 103: 104, 105: 106, 107: 108}
	for code, reply := range commands {
		s, ok := byCode[code]
		if !ok {
			t.Errorf("code %d missing from the registry listing", code)
			continue
		}
		if s.Direction != "to-scooter" {
			t.Errorf("code %d direction %q", code, s.Direction)
		}
		switch {
		case reply == 0 && s.Reply != nil:
			t.Errorf("code %d lists reply %d, has none", code, *s.Reply)
		case reply != 0 && (s.Reply == nil || *s.Reply != reply):
			t.Errorf("code %d reply %v, want %d", code, s.Reply, reply)
		}
	}
	for _, code := range []int{19, 27, 55, 57, 69, 88} {
		if _, ok := byCode[code]; !ok {
			t.Errorf("report %d missing", code)
		}
	}
	if !byCode[33].Deprecated || !byCode[55].Removed || !byCode[57].Removed {
		t.Error("deprecated/removed flags missing")
	}
	k := byCode[13].Fields
	if len(k) != 1 || k[0].Key != "k" {
		t.Fatalf("13 fields %+v", k)
	}
}

func TestProtocolListTable(t *testing.T) {
	stdout, _, status := runCLI(t, "protocol", "list")
	if status != 0 || !strings.HasPrefix(stdout, "CODE") || !strings.Contains(stdout, "set speed limit") {
		t.Fatalf("status %d, output %.200q", status, stdout)
	}
	if _, _, status := runCLI(t, "protocol", "list", "extra"); status != 2 {
		t.Fatalf("extra argument: status %d, want 2", status)
	}
}

func TestProtocolDecode(t *testing.T) {
	in := strings.Join([]string{
		`bike {"a":19,"i":"12AB","g":"3020.5887,12006.4229,1","t":1503046415}`,
		``,
		`bike not json`,
		"12AB\t{\"a\":13,\"k\":2020}",
		`o {"a":54,"i":"12AB","s":}`,
		`foo/bar {"a":1}`,
		`bike`,
		`bike {"a":27,"i":"12AB","b":87,"c":1,"s":0,"r":37.5,"v":25,"x":3}` + "\r",
		`bike {"a":` + strings.Repeat("9", 3*maxLine),
	}, "\n")
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"protocol", "decode"}, strings.NewReader(in), &out, &errb)
	if err != nil || errb.Len() != 0 {
		t.Fatalf("err %v, stderr %q", err, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []struct {
		code int
		kind string
	}{{19, ""}, {0, "syntax error"}, {13, ""}, {54, ""}, {0, "bad topic"}, {0, "input"}, {27, ""}, {0, "payload too large"}}
	if len(lines) != len(want) {
		t.Fatalf("%d output lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		var got struct {
			Code    int             `json:"code"`
			Kind    string          `json:"kind"`
			Error   string          `json:"error"`
			Message json.RawMessage `json:"message"`
			Payload string          `json:"payload"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if got.Code != want[i].code || got.Kind != want[i].kind {
			t.Errorf("line %d: code %d kind %q (%s), want %d %q", i, got.Code, got.Kind, got.Error, want[i].code, want[i].kind)
		}
		if want[i].code != 0 && len(got.Message) == 0 {
			t.Errorf("line %d: no message", i)
		}
		if len(got.Payload) > 600 {
			t.Errorf("line %d: echoed payload not capped (%d bytes)", i, len(got.Payload))
		}
	}
	if !strings.Contains(lines[0], `"lat":30.343145`) {
		t.Errorf("GPS not converted to decimal degrees: %s", lines[0])
	}
}

func TestProtocolDecodeUnreadableStdin(t *testing.T) {
	var out, errb bytes.Buffer
	boom := errors.New("boom")
	err := run(t.Context(), []string{"protocol", "decode"}, iotest.ErrReader(boom), &out, &errb)
	if !errors.Is(err, boom) || report(err, &errb) != 1 {
		t.Fatalf("err %v, want the read error with exit status 1", err)
	}
}
