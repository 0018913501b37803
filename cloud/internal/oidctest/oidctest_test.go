package oidctest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
)

const redirect = "http://127.0.0.1:1/cb"

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func TestProviderEnforcesTheProtocol(t *testing.T) {
	p, err := oidctest.Start(oidctest.Config{ClientID: "cid", ClientSecret: "sec", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	verifier := strings.Repeat("v", 43)
	authorize := func(q url.Values) *http.Response {
		t.Helper()
		res, err := noFollow.Get(p.Issuer() + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	good := url.Values{"client_id": {"cid"}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"st"},
		"nonce": {"n"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	if res := authorize(with("redirect_uri", "http://evil.example/cb")); res.StatusCode != 400 {
		t.Fatalf("unregistered redirect: %d", res.StatusCode)
	}
	if res := authorize(with("client_id", "other")); res.StatusCode != 400 {
		t.Fatalf("unknown client: %d", res.StatusCode)
	}
	for _, q := range []url.Values{with("code_challenge", ""), with("code_challenge_method", "plain")} {
		res := authorize(q)
		if loc := res.Header.Get("Location"); res.StatusCode != 302 || !strings.Contains(loc, "error=invalid_request") {
			t.Fatalf("no PKCE accepted: %d %s", res.StatusCode, loc)
		}
	}
	code := func() string {
		res := authorize(good)
		loc, _ := url.Parse(res.Header.Get("Location"))
		if loc.Query().Get("state") != "st" {
			t.Fatalf("state not echoed: %s", loc)
		}
		return loc.Query().Get("code")
	}
	exchange := func(form url.Values, id, secret string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.Issuer()+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, body
	}
	form := func(c, v string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "code_verifier": {v}}
	}
	if st, b := exchange(form(code(), verifier), "cid", "wrong"); st != 401 || b["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, b)
	}
	if st, b := exchange(form(code(), strings.Repeat("w", 43)), "cid", "sec"); st != 400 || b["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", st, b)
	}
	c := code()
	if st, b := exchange(form(c, verifier), "cid", "sec"); st != 200 || b["id_token"] == nil {
		t.Fatalf("good exchange: %d %v", st, b)
	}
	if st, b := exchange(form(c, verifier), "cid", "sec"); st != 400 || b["error"] != "invalid_grant" {
		t.Fatalf("code reuse: %d %v", st, b)
	}
	if p.TokenRequests() != 1 {
		t.Fatalf("token requests %d", p.TokenRequests())
	}
}
