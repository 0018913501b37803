package pgstore_test

import (
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore"
)

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://fleetedge_app:s3cr%40t@127.0.0.1:55432/fleetedge?sslmode=disable", "postgres://fleetedge_app:xxxxx@127.0.0.1:55432/fleetedge?sslmode=disable"},
		{"postgresql://u@h/db?password=s3cr%40t&sslmode=require", "postgresql://u@h/db?password=xxxxx&sslmode=require"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"host=h user=u password=s3cr@t dbname=db", "host=h user=u password=xxxxx dbname=db"},
		{"host=h password='s3 cr\\'@t' dbname=db", "host=h password=xxxxx dbname=db"},
	}
	for _, tc := range tests {
		got := pgstore.RedactDSN(tc.in)
		if got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cr") {
			t.Errorf("RedactDSN(%q) leaks the password: %q", tc.in, got)
		}
	}
}
