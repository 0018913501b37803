package ingest

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"durable with a dot", Config{Durable: "a.b"}},
		{"negative flush rows", Config{FlushRows: -1}},
		{"negative nak delay", Config{NakDelay: -time.Second}},
		{"ack wait shorter than a flush", Config{AckWait: time.Second, FlushInterval: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("Validate = %v, want ErrConfig", err)
			}
		})
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestSubjectParts(t *testing.T) {
	for _, tc := range []struct {
		subject, city, kind string
		ok                  bool
	}{
		{"fleet.up.paris.telemetry", "paris", "telemetry", true},
		{"fleet.up.paris.events", "paris", "events", true},
		{"fleet.up.Paris.events", "", "", false},
		{"fleet.up.paris", "", "", false},
		{"fleet.up.paris.events.x", "", "", false},
		{"fleet.down.paris.events", "", "", false},
	} {
		city, kind, err := subjectParts(tc.subject)
		if (err == nil) != tc.ok || string(city) != tc.city || kind != tc.kind {
			t.Errorf("subjectParts(%q) = %q, %q, %v", tc.subject, city, kind, err)
		}
		if err != nil && !errors.Is(err, errUnprocessable) {
			t.Errorf("subjectParts(%q) error %v is not errUnprocessable", tc.subject, err)
		}
	}
}
