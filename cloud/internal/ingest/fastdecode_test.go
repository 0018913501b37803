package ingest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fleetedge/fleetedge/protocol/link"
)

func fastSeeds(f *testing.F) {
	b := telemetryBatch(1, 40, 7)
	b.Records[3].Position.LBS, b.Records[3].Position.Alarm, b.Records[3].Position.FixTime = true, true, t0
	v, sig := 48.5, 23
	b.Records[4].VoltageV, b.Records[4].Signal = &v, &sig
	b.Records[5].Status = &link.Status{Paused: true, Fallen: true, AtStation: true, ErrorCode: 12}
	data, err := json.Marshal(b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"v":1,"gateway":"g","city":"c","records":[]}`))
	f.Add([]byte(`{"v":1,"gateway":"g","city":"c","records":[{"seq":1,"vehicle":"v","time":"2026-01-01T00:00:00Z","speed_kmh":1e-7,"battery_pct":-0}]}`))
	f.Add([]byte(`{"v":1,"gateway":"g","city":"c","records":[{"seq":18446744073709551615,"vehicle":"ü","time":"2026-01-01T00:00:00.123456789+02:00"}]}`))
}

// FuzzFastTelemetry: whenever the fast path accepts a document, encoding/json
// accepts it too and decodes exactly the same value.
func FuzzFastTelemetry(f *testing.F) {
	fastSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastTelemetryBatch(data)
		if !ok {
			return
		}
		var slow link.TelemetryBatch
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %s", err, data)
		}
		if !reflect.DeepEqual(*fast, slow) {
			t.Fatalf("fast path decoded differently:\nfast: %+v\njson: %+v\ninput: %s", *fast, slow, data)
		}
	})
}

// TestFastPathTakesTheCanonicalForm: the documents gateways send (field order of
// link.Telemetry, no whitespace) take the fast path.
func TestFastPathTakesTheCanonicalForm(t *testing.T) {
	data, err := json.Marshal(telemetryBatch(1, 100, 9))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := fastTelemetryBatch(data)
	if !ok || len(b.Records) != 100 {
		t.Fatalf("canonical document not taken by the fast path: %v", ok)
	}
	if _, ok := fastTelemetryBatch(append([]byte(" "), data...)); ok {
		t.Error("leading whitespace taken by the fast path")
	}
}

func BenchmarkDecodeTelemetry(b *testing.B) {
	data, err := json.Marshal(telemetryBatch(1, 2000, 500))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeTelemetryBatch(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/record")
	})
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			if _, err := link.DecodeTelemetryBatch(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/record")
	})
}
