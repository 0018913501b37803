package protocol

import (
	"encoding/json"
	"testing"
)

var (
	benchHeartbeat = []byte(`{"a":27,"i":"12AB","b":87,"c":1,"s":0,"r":37.5,"v":25,"x":3}`)
	benchGPS       = []byte(`{"a":19,"i":"12AB","g":"3020.5887,12006.4229,0,0","t":1503046415}`)
)

// jsonHeartbeat and jsonGPS are the baseline: plain encoding/json into a
// struct, as a naive gateway would (it cannot survive the quirks).
type jsonHeartbeat struct {
	A int     `json:"a"`
	I string  `json:"i"`
	B int     `json:"b"`
	C int     `json:"c"`
	S int     `json:"s"`
	R float64 `json:"r"`
	V int     `json:"v"`
	X int     `json:"x"`
}

type jsonGPS struct {
	A int    `json:"a"`
	I string `json:"i"`
	G string `json:"g"`
	T int64  `json:"t"`
}

var sinkMsg Message

func BenchmarkDecodeHeartbeat(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHeartbeat)))
	for b.Loop() {
		m, err := Decode("bike", benchHeartbeat)
		if err != nil {
			b.Fatal(err)
		}
		sinkMsg = m
	}
}

// BenchmarkDecoderHeartbeat reuses a Decoder (the gateway's per-connection path).
func BenchmarkDecoderHeartbeat(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHeartbeat)))
	var d Decoder
	for b.Loop() {
		m, err := d.Decode("bike", benchHeartbeat)
		if err != nil {
			b.Fatal(err)
		}
		sinkMsg = m
	}
}

func BenchmarkDecodeHeartbeatEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHeartbeat)))
	for b.Loop() {
		var m jsonHeartbeat
		if err := json.Unmarshal(benchHeartbeat, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGPS(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGPS)))
	for b.Loop() {
		m, err := Decode("bike", benchGPS)
		if err != nil {
			b.Fatal(err)
		}
		sinkMsg = m
	}
}

func BenchmarkDecoderGPS(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGPS)))
	var d Decoder
	for b.Loop() {
		m, err := d.Decode("bike", benchGPS)
		if err != nil {
			b.Fatal(err)
		}
		sinkMsg = m
	}
}

// BenchmarkDecodeGPSEncodingJSON leaves g as a string (no ddmm.mmmm
// conversion), so the baseline does less work than Decode.
func BenchmarkDecodeGPSEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGPS)))
	for b.Loop() {
		var m jsonGPS
		if err := json.Unmarshal(benchGPS, &m); err != nil {
			b.Fatal(err)
		}
	}
}

var sinkBytes []byte

func BenchmarkEncodeCommand(b *testing.B) {
	b.ReportAllocs()
	c, err := NewSetSpeedLimit(20)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	for b.Loop() {
		out, err := AppendCommand(buf[:0], c, Quirks{})
		if err != nil {
			b.Fatal(err)
		}
		sinkBytes = out
	}
}

func BenchmarkEncodeHeartbeat(b *testing.B) {
	b.ReportAllocs()
	hb := &Heartbeat{Header: Header{From: "12AB"}, Battery: 87, Power: 1, Voltage: 37.5, Vibration: 25, Station: 3}
	buf := make([]byte, 0, 128)
	for b.Loop() {
		out, err := AppendReport(buf[:0], hb, Quirks{})
		if err != nil {
			b.Fatal(err)
		}
		sinkBytes = out
	}
}
