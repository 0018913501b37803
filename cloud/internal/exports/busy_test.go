package exports

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
)

// TestBusy: with every export slot taken, an export answers 503 unavailable with Retry-After
// before touching the database; a freed slot lets the next one in.
func TestBusy(t *testing.T) {
	h := &handlers{d: Deps{TmpDir: t.TempDir()}, log: slog.New(slog.DiscardHandler), busy: make(chan struct{}, 1)}
	h.busy <- struct{}{}
	_, err := h.export(t.Context(), "rides", []string{"id"}, nil, nil, func(*workbook) error {
		t.Fatal("export ran while busy")
		return nil
	})
	var p *adminapi.Problem
	if !errors.As(err, &p) || p.Status != 503 || p.Code != adminapi.CodeUnavailable || p.GetHeaders().Get("Retry-After") != "5" {
		t.Fatalf("busy: %v", err)
	}
	<-h.busy
	boom := errors.New("boom")
	_, err = h.export(t.Context(), "rides", []string{"id"}, nil, nil, func(*workbook) error { return boom })
	if !errors.As(err, &p) || p.Status != 500 {
		t.Fatalf("failing export: %v", err)
	}
	if len(h.busy) != 0 {
		t.Fatal("a failed export kept its slot")
	}
}
