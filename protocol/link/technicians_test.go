package link

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const testPHC = "$argon2id$v=19$m=65536,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func techDoc(ts ...Technician) *TechniciansDoc {
	return &TechniciansDoc{V: Version, City: "bcn", Version: 3, Updated: time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC), Technicians: ts}
}

func TestTechniciansDocValidate(t *testing.T) {
	ok := Technician{Username: "ana.m@depot-1", Name: "Ana", PasswordHash: testPHC}
	tests := []struct {
		name string
		doc  *TechniciansDoc
		want error // nil: valid
	}{
		{"valid", techDoc(ok, Technician{Username: "bo", PasswordHash: testPHC}), nil},
		{"empty list", techDoc(), nil},
		{"wrong v", &TechniciansDoc{V: 2, City: "bcn", Version: 1}, ErrVersion},
		{"no city", &TechniciansDoc{V: 1, Version: 1}, ErrInvalid},
		{"version 0", &TechniciansDoc{V: 1, City: "bcn"}, ErrInvalid},
		{"duplicate", techDoc(ok, ok), ErrInvalid},
		{"upper case user", techDoc(Technician{Username: "Ana", PasswordHash: testPHC}), ErrInvalid},
		{"user starts with dot", techDoc(Technician{Username: ".ana", PasswordHash: testPHC}), ErrInvalid},
		{"empty user", techDoc(Technician{PasswordHash: testPHC}), ErrInvalid},
		{"long user", techDoc(Technician{Username: strings.Repeat("a", 65), PasswordHash: testPHC}), ErrInvalid},
		{"long name", techDoc(Technician{Username: "a", Name: strings.Repeat("é", 201), PasswordHash: testPHC}), ErrInvalid},
		{"no hash", techDoc(Technician{Username: "a"}), ErrInvalid},
		{"bcrypt hash", techDoc(Technician{Username: "a", PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"}), ErrInvalid},
		{"argon2i", techDoc(Technician{Username: "a", PasswordHash: strings.Replace(testPHC, "argon2id", "argon2i", 1)}), ErrInvalid},
		{"huge memory", techDoc(Technician{Username: "a", PasswordHash: strings.Replace(testPHC, "m=65536", "m=524288", 1)}), ErrInvalid},
		{"huge time", techDoc(Technician{Username: "a", PasswordHash: strings.Replace(testPHC, "t=1", "t=1000", 1)}), ErrInvalid},
		{"missing p", techDoc(Technician{Username: "a", PasswordHash: strings.Replace(testPHC, ",p=2", "", 1)}), ErrInvalid},
		{"repeated m", techDoc(Technician{Username: "a", PasswordHash: strings.Replace(testPHC, "t=1", "m=8", 1)}), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.doc.Validate()
			if tt.want == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	many := techDoc()
	for i := range MaxTechnicians + 1 {
		many.Technicians = append(many.Technicians, Technician{Username: "t" + strings.Repeat("x", i%50) + string(rune('a'+i%26)), PasswordHash: testPHC})
	}
	if err := many.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("%d technicians: %v, want ErrInvalid", len(many.Technicians), err)
	}
}

// The wire form is part of the contract between cloud and gateways.
func TestTechniciansDocJSON(t *testing.T) {
	d := techDoc(Technician{Username: "ana", Name: "Ana", PasswordHash: testPHC}, Technician{Username: "bo", PasswordHash: testPHC})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"city":"bcn","version":3,"updated":"2026-11-25T15:00:00Z","technicians":[` +
		`{"username":"ana","name":"Ana","password_hash":"` + testPHC + `"},{"username":"bo","password_hash":"` + testPHC + `"}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if ConfigTechnicians != "technicians" {
		t.Fatalf("key %q", ConfigTechnicians)
	}
}
