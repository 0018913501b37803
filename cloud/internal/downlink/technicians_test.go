package downlink

import (
	"errors"
	"testing"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// The technicians' document goes to the same bucket under its own key, with
// the same validation and version rules as the other documents.
func TestPublishTechnicians(t *testing.T) {
	d := newDownlink(t, openBus(t), Config{})
	ctx := t.Context()
	const phc = "$argon2id$v=19$m=65536,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	doc := func(v int64, ts ...link.Technician) *link.TechniciansDoc {
		return &link.TechniciansDoc{V: link.Version, City: city, Version: v, Technicians: ts}
	}
	if _, err := d.PublishConfig(ctx, city, doc(1, link.Technician{Username: "ana", PasswordHash: phc})); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PublishConfig(ctx, city, doc(1)); !errors.Is(err, ErrNotNewer) {
		t.Errorf("same version: %v, want ErrNotNewer", err)
	}
	if _, err := d.PublishConfig(ctx, city, doc(2, link.Technician{Username: "ana", PasswordHash: "plain"})); !errors.Is(err, ErrInvalid) {
		t.Errorf("plain password: %v, want ErrInvalid", err)
	}
	if _, err := d.PublishConfig(ctx, city, (*link.TechniciansDoc)(nil)); !errors.Is(err, ErrInvalid) {
		t.Errorf("typed nil: %v, want ErrInvalid", err)
	}
	cur, err := d.CurrentConfig(ctx, city, link.ConfigTechnicians)
	if err != nil || cur.Version != 1 {
		t.Errorf("current technicians %+v %v", cur, err)
	}
}
