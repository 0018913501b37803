package pgstore_test

import (
	"bytes"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

// TestSealedPhoneStoredAtRest stores a rider's phone sealed by fieldcrypt and proves the
// database holds no plaintext, and that the stored pair opens only for its own row.
func TestSealedPhoneStoredAtRest(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "e")
	kr, err := fieldcrypt.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, fieldcrypt.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	phone := []byte("+34600111222")
	bind := []byte("riders.phone_ciphertext:" + f.riderID)
	s, err := kr.Seal(phone, bind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE riders SET phone_ciphertext = $2, phone_key_id = $3 WHERE id = $1`, f.riderID, s.Ciphertext, s.KeyID); err != nil {
		t.Fatal(err)
	}
	var got fieldcrypt.Sealed
	var asText string
	if err := db.Pool.QueryRow(ctx, `SELECT phone_ciphertext, phone_key_id, phone_ciphertext::text FROM riders WHERE id = $1`, f.riderID).
		Scan(&got.Ciphertext, &got.KeyID, &asText); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got.Ciphertext, phone) || bytes.Contains([]byte(asText), []byte("600111222")) {
		t.Fatal("plaintext phone stored in the database")
	}
	pt, err := kr.Open(got, bind)
	if err != nil || !bytes.Equal(pt, phone) {
		t.Fatalf("open stored phone: %q, %v", pt, err)
	}
	if _, err := kr.Open(got, []byte("riders.phone_ciphertext:someone-else")); err == nil {
		t.Fatal("stored phone opened under another rider's context")
	}
}
