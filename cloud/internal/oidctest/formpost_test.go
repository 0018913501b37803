package oidctest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
	"github.com/golang-jwt/jwt/v5"
)

func genKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// appleLike starts a provider that behaves like Sign in with Apple.
func appleLike(t *testing.T, pub *ecdsa.PublicKey) *oidctest.Provider {
	t.Helper()
	p, err := oidctest.Start(oidctest.Config{ClientID: "com.example.rider", RedirectURIs: []string{redirect},
		TokenAuthMethods: []string{oidctest.AuthPost}, RequireFormPost: true, NamesInFormPost: true, EmailVerifiedAsString: true,
		ClientSecretJWT: &oidctest.ClientSecretJWT{TeamID: "TEAM123456", KeyID: "KEY1234567", PublicKey: pub}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestFormPostResponseMode(t *testing.T) {
	p := appleLike(t, &genKey(t).PublicKey)
	verifier := strings.Repeat("v", 43)
	q := url.Values{"client_id": {"com.example.rider"}, "redirect_uri": {redirect}, "response_type": {"code"},
		"state": {`st"<&>`}, "nonce": {"n"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}

	// Apple-like: query mode refused (by redirect: the provider cannot post without being asked).
	res := get(t, p.Issuer()+"/authorize?"+q.Encode())
	if loc := res.Header.Get("Location"); res.StatusCode != 302 || !strings.Contains(loc, "error=invalid_request") {
		t.Fatalf("query mode at a form_post-only provider: %d %s", res.StatusCode, loc)
	}

	q.Set("response_mode", "form_post")
	read := func() url.Values {
		t.Helper()
		res := get(t, p.Issuer()+"/authorize?"+q.Encode())
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("form_post: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		action, fields, err := oidctest.ReadFormPost(res.Body)
		if err != nil || action != redirect {
			t.Fatalf("form: %q %v", action, err)
		}
		if fields.Get("state") != `st"<&>` || fields.Get("code") == "" {
			t.Fatalf("fields %v", fields)
		}
		return fields
	}
	first := read()
	var u struct {
		Name struct{ FirstName, LastName string } `json:"name"`
	}
	if err := json.Unmarshal([]byte(first.Get("user")), &u); err != nil || u.Name.FirstName != "Test" || u.Name.LastName != "User" {
		t.Fatalf("first authorization's user field %q: %v", first.Get("user"), err)
	}
	if second := read(); second.Has("user") {
		t.Fatalf("user field sent again: %v", second)
	}

	// Errors come back the same way.
	q.Set("code_challenge_method", "plain")
	res = get(t, p.Issuer()+"/authorize?"+q.Encode())
	if _, f, err := oidctest.ReadFormPost(res.Body); err != nil || f.Get("error") != "invalid_request" || f.Has("code") {
		t.Fatalf("error by form_post: %v %v", f, err)
	}
	q.Set("response_mode", "fragment")
	if res := get(t, p.Issuer()+"/authorize?"+q.Encode()); res.StatusCode != 302 || !strings.Contains(res.Header.Get("Location"), "error=invalid_request") {
		t.Fatalf("unsupported response mode: %d", res.StatusCode)
	}
}

func TestReadFormPostRefusesWhatIsNotAPostForm(t *testing.T) {
	for name, page := range map[string]string{
		"no form":  `<html><body><p>hello</p></body></html>`,
		"get form": `<html><body><form method="get" action="/x"><input name="a" value="b"></form></body></html>`,
	} {
		if _, _, err := oidctest.ReadFormPost(strings.NewReader(page)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestClientSecretJWT(t *testing.T) {
	key := genKey(t)
	p := appleLike(t, &key.PublicKey)
	now := time.Now()
	sign := func(k *ecdsa.PrivateKey, alter func(h map[string]any, c jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": "TEAM123456", "sub": "com.example.rider", "aud": p.Issuer(),
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = "KEY1234567"
		if alter != nil {
			alter(tok.Header, c)
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// exchange posts a code-less request: invalid_client (401) is decided before the grant
	// (invalid_grant, 400), so the status tells whether the client secret was accepted.
	exchange := func(secret string, basic bool) int {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {redirect}}
		if !basic {
			form.Set("client_id", "com.example.rider")
			form.Set("client_secret", secret)
		}
		req, _ := http.NewRequest("POST", p.Issuer()+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth("com.example.rider", secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := exchange(sign(key, nil), false); st != 400 {
		t.Fatalf("good client secret: %d", st)
	}
	if p.ClientSecretsSeen() != 1 {
		t.Fatalf("secrets seen %d", p.ClientSecretsSeen())
	}
	bad := map[string]string{
		"basic auth (Apple accepts post only)": "basic",
		"other key":                            sign(genKey(t), nil),
		"wrong kid":                            sign(key, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "OTHER" }),
		"wrong team":                           sign(key, func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "OTHERTEAM" }),
		"wrong client":                         sign(key, func(_ map[string]any, c jwt.MapClaims) { c["sub"] = "com.evil" }),
		"wrong audience":                       sign(key, func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "https://appleid.apple.com" }),
		"expired":                              sign(key, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }),
		"no exp":                               sign(key, func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") }),
		"issued in the future":                 sign(key, func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }),
		"lives too long":                       sign(key, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(200 * 24 * time.Hour).Unix() }),
		"not a JWT":                            "s3cret",
	}
	for name, secret := range bad {
		basic := secret == "basic"
		if basic {
			secret = sign(key, nil)
		}
		if st := exchange(secret, basic); st != 401 {
			t.Errorf("%s: %d, want 401 invalid_client", name, st)
		}
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "TEAM123456", "sub": "com.example.rider", "aud": p.Issuer(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	hs.Header["kid"] = "KEY1234567"
	if s, err := hs.SignedString([]byte("k")); err != nil || exchange(s, false) != 401 {
		t.Errorf("HS256 accepted: %v", err)
	}
}
