package main

import (
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
)

func TestHashPassword(t *testing.T) {
	var out strings.Builder
	if err := hashPassword(strings.NewReader("a long enough password\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	// The hash works as a break-glass account and verifies only its password.
	acc, err := fieldui.NewAccounts("rescue", h)
	if err != nil {
		t.Fatalf("hash %q refused: %v", h, err)
	}
	if _, ok := acc.Verify("rescue", "a long enough password"); !ok {
		t.Fatal("password does not verify against its hash")
	}
	if _, ok := acc.Verify("rescue", "a long enough passworD"); ok {
		t.Fatal("another password verifies")
	}
	if err := hashPassword(strings.NewReader("short\n"), &out); err == nil {
		t.Fatal("short password accepted")
	}
}
