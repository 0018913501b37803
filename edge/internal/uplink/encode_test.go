package uplink

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

func randomTelemetry(r *rand.Rand, seq uint64) link.Telemetry {
	vehicles := []string{"12AB", "V-001_x", `q"uote\back`, "tab\tnl\nctl\x01", "ünïcødé", ""}
	floats := []float64{0, -0.5, 1e-7, -3.2e-9, 1e21, 123456789.123, 48.8566, -2.3522, math.MaxFloat64, math.SmallestNonzeroFloat64}
	f := func() float64 {
		if r.IntN(2) == 0 {
			return floats[r.IntN(len(floats))]
		}
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(30)-15))
	}
	t := link.Telemetry{Seq: seq, Vehicle: vehicles[r.IntN(len(vehicles))],
		Time: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()}
	if r.IntN(2) == 0 {
		t.Position = &link.Position{Lat: f(), Lon: f(), LBS: r.IntN(2) == 0, Alarm: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			t.Position.FixTime = time.Unix(r.Int64N(4e9), 0).UTC()
		}
	}
	if r.IntN(2) == 0 {
		v := f()
		t.SpeedKmh = &v
	}
	if r.IntN(2) == 0 {
		v := r.IntN(201) - 100
		t.BatteryPct = &v
	}
	if r.IntN(2) == 0 {
		v := f()
		t.VoltageV = &v
	}
	if r.IntN(2) == 0 {
		v := r.IntN(1 << 20)
		t.Signal = &v
	}
	if r.IntN(2) == 0 {
		t.Status = &link.Status{Powered: r.IntN(2) == 0, Paused: r.IntN(2) == 0, Fallen: r.IntN(2) == 0,
			AtStation: r.IntN(2) == 0, ErrorCode: r.IntN(70000) - 1000}
	}
	return t
}

// TestAppendTelemetryBatchRoundTrip: the hand-written encoder writes what
// encoding/json writes, as far as any JSON reader can tell.
func TestAppendTelemetryBatchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := link.Header{V: link.Version, Gateway: testGateway, City: testCity}
	for round := range 200 {
		recs := make([]link.Telemetry, 1+r.IntN(20))
		for i := range recs {
			recs[i] = randomTelemetry(r, uint64(round*100+i+1))
		}
		got, err := appendTelemetryBatch(nil, h, recs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(&link.TelemetryBatch{Header: h, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		var a, b link.TelemetryBatch
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("own encoding does not decode: %v\n%s", err, got)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round %d differs:\nown:  %s\njson: %s", round, got, want)
		}
		var ga, gb any // and as generic documents (same keys, nothing extra)
		if err := json.Unmarshal(got, &ga); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &gb); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ga, gb) {
			t.Fatalf("round %d: documents differ:\nown:  %s\njson: %s", round, got, want)
		}
	}
}

func TestAppendTelemetryRejectsWhatJSONCannotCarry(t *testing.T) {
	h := link.Header{V: link.Version, Gateway: testGateway, City: testCity}
	nan, inf := math.NaN(), math.Inf(-1)
	for name, r := range map[string]link.Telemetry{
		"NaN speed":     {Seq: 1, Vehicle: "V", Time: t0, SpeedKmh: &nan},
		"Inf latitude":  {Seq: 1, Vehicle: "V", Time: t0, Position: &link.Position{Lat: inf}},
		"bad UTF-8":     {Seq: 1, Vehicle: "V\xff", Time: t0},
		"year 10000":    {Seq: 1, Vehicle: "V", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"negative year": {Seq: 1, Vehicle: "V", Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := appendTelemetryBatch(nil, h, []link.Telemetry{r}); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func BenchmarkEncodeTelemetry(b *testing.B) {
	h := link.Header{V: link.Version, Gateway: testGateway, City: testCity}
	recs := make([]link.Telemetry, 2000)
	for i := range recs {
		lat, sp := 48.8566+float64(i)*1e-5, 12.5
		recs[i] = link.Telemetry{Seq: uint64(i + 1), Vehicle: "V0001", Time: t0.Add(time.Duration(i) * time.Millisecond),
			Position: &link.Position{Lat: lat, Lon: 2.3522}, SpeedKmh: &sp}
	}
	b.Run("own", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendTelemetryBatch(buf[:0], h, recs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(&link.TelemetryBatch{Header: h, Records: recs}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
}
