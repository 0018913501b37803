package riderapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
	"github.com/prometheus/client_golang/prometheus"
)

// counterValue reads fleetedge_rider_auth_total{op, outcome} from reg (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, op, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "fleetedge_rider_auth_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestBuildFromSettings(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	kr, err := fieldcrypt.NewKeyring("p1", map[string][]byte{"p1": bytes.Repeat([]byte{7}, fieldcrypt.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := authtoken.GenerateSeed()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	s := riderapi.DefaultSettings()
	s.Argon2 = account.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	s.JWTKeys, s.JWTCurrentKey = "2026-11:"+seed, "2026-11"
	s.OIDCProviders = []rideroidc.ProviderConfig{{Name: "google", Issuer: "https://accounts.google.com", ClientID: "c", ClientSecret: "secret-value", RedirectURL: "https://api.example.com/v1/auth/oidc/google/callback"}}
	s.OIDCStateKey = bytes.Repeat([]byte("s"), 32)
	api, err := riderapi.Build(s, db.Pool, kr, reg, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), seed) || strings.Contains(logs.String(), "secret-value") {
		t.Fatalf("configuration log shows secrets: %s", logs.String())
	}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/v1/auth/signup", "application/json", strings.NewReader(`{"first_name":"Ana","last_name":"G","email":"ana@example.com","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if res.StatusCode != 201 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("signup: %d %s", res.StatusCode, body)
	}
	// The token's kid is the configured current key.
	hdr, _, _ := strings.Cut(tok.AccessToken, ".")
	if !strings.Contains(string(mustB64(t, hdr)), `"kid":"2026-11"`) {
		t.Fatalf("header %s", mustB64(t, hdr))
	}

	if n := counterValue(t, reg, "signup", "ok"); n != 1 {
		t.Fatalf("signup ok counter %v", n)
	}

	bad := s
	bad.JWTCurrentKey = "missing"
	if _, err := riderapi.Build(bad, db.Pool, kr, nil, nil, nil); err == nil {
		t.Fatal("unknown current key accepted")
	}
	bad = s
	bad.OIDCStateKey = []byte("short")
	if _, err := riderapi.Build(bad, db.Pool, kr, nil, nil, nil); err == nil {
		t.Fatal("short state key accepted")
	}
}
