package riderapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// appleEnv is an env whose API knows three providers: "test" (query mode, the env's
// provider), "apple" (an Apple-like provider: form_post, ES256 client-secret JWT, names only
// in the first login's user field) and "applebadkey" (the same Apple-like provider, but our
// client secret is signed with a key Apple does not know).
type appleEnv struct {
	*env
	apple *oidctest.Provider
}

func newAppleEnv(t *testing.T) appleEnv {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var apple *oidctest.Provider
	withApple := func(e *env, c *riderapi.Config) {
		apple, err = oidctest.Start(oidctest.Config{ClientID: "com.example.rider",
			RedirectURIs:     []string{e.url + "/v1/auth/oidc/apple/callback", e.url + "/v1/auth/oidc/applebadkey/callback"},
			TokenAuthMethods: []string{oidctest.AuthPost}, RequireFormPost: true, NamesInFormPost: true, EmailVerifiedAsString: true,
			ClientSecretJWT: &oidctest.ClientSecretJWT{TeamID: "TEAM123456", KeyID: "KEY1234567", PublicKey: &key.PublicKey},
			Now:             e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(apple.Close)
		applePC := func(name string, k *ecdsa.PrivateKey) rideroidc.ProviderConfig {
			return rideroidc.ProviderConfig{Name: name, Issuer: apple.Issuer(), ClientID: "com.example.rider",
				RedirectURL: e.url + "/v1/auth/oidc/" + name + "/callback", Scopes: []string{"openid", "email", "name"},
				ResponseMode:    rideroidc.ResponseModeFormPost,
				ClientSecretJWT: &rideroidc.ClientSecretJWT{TeamID: "TEAM123456", KeyID: "KEY1234567", PrivateKeyPEM: keyPEM(t, k)}}
		}
		login, err := rideroidc.New(rideroidc.Config{Providers: []rideroidc.ProviderConfig{
			{Name: "test", Issuer: e.idp.Issuer(), ClientID: "fleetedge-rider", ClientSecret: "s3cret-client",
				RedirectURL: e.url + "/v1/auth/oidc/test/callback"},
			applePC("apple", key), applePC("applebadkey", other),
		}, StateKey: bytes.Repeat([]byte("k"), 32), InsecureCookie: true, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		c.OIDC = login
	}
	e := newEnv(t, withPolicy(oidcPolicy()), withApple)
	return appleEnv{env: e, apple: apple}
}

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// appleStart runs /start of provider in browser b; it returns the authorization URL.
func (e appleEnv) appleStart(b *http.Client, provider string) string {
	e.t.Helper()
	res := e.get(b, e.url+"/v1/auth/oidc/"+provider+"/start")
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		e.t.Fatalf("start: %d", res.StatusCode)
	}
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, "SameSite=None") || !strings.Contains(sc, "HttpOnly") {
		e.t.Fatalf("form_post state cookie %q", sc)
	}
	loc := res.Header.Get("Location")
	if u, err := url.Parse(loc); err != nil || u.Query().Get("response_mode") != "form_post" {
		e.t.Fatalf("authorization URL %s", loc)
	}
	return loc
}

// appleAuthorize loads the provider's page in b and reads its auto-submitting form.
func (e appleEnv) appleAuthorize(b *http.Client, authURL string) (action string, fields url.Values) {
	e.t.Helper()
	res := e.get(b, authURL)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("authorize: %d", res.StatusCode)
	}
	action, fields, err := oidctest.ReadFormPost(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(action, e.url+"/v1/auth/oidc/") {
		e.t.Fatalf("form action %s", action)
	}
	return action, fields
}

// post submits the form as the browser would (its cookies go along).
func (e appleEnv) post(b *http.Client, action string, fields url.Values) response {
	e.t.Helper()
	res, err := b.PostForm(action, fields)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.asResponse(res)
}

// appleLogin runs the whole form_post flow in a fresh browser.
func (e appleEnv) appleLogin(provider string) response {
	e.t.Helper()
	b := browser(e.t)
	action, fields := e.appleAuthorize(b, e.appleStart(b, provider))
	return e.post(b, action, fields)
}

func TestAppleFormPostLoginCreatesAccountWithPostedName(t *testing.T) {
	t.Parallel()
	e := newAppleEnv(t)
	e.apple.SetUser(oidctest.User{Subject: "001234.apple", Email: "x7k2@privaterelay.appleid.com", EmailVerified: true,
		GivenName: "Marta", FamilyName: "Núñez"})
	r := e.appleLogin("apple")
	if r.status != 200 || r.body["created"] != true {
		t.Fatalf("first login: %d %s", r.status, r.raw)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") || !strings.Contains(sc, "SameSite=None") {
		t.Fatalf("state cookie not cleared like it was set: %q", sc)
	}
	rider := r.body["rider"].(map[string]any)
	if rider["first_name"] != "Marta" || rider["last_name"] != "Núñez" || rider["email"] != "x7k2@privaterelay.appleid.com" {
		t.Fatalf("rider %v", rider)
	}
	if me := e.do(req{method: "GET", path: "/v1/me", token: r.str("access_token")}); me.status != 200 || me.str("id") != rider["id"] {
		t.Fatalf("me: %d %s", me.status, me.raw)
	}
	// Apple sends the name once; the second login finds the same rider, name kept.
	again := e.appleLogin("apple")
	ar, _ := again.body["rider"].(map[string]any)
	if again.status != 200 || again.body["created"] != false || ar["id"] != rider["id"] || ar["first_name"] != "Marta" {
		t.Fatalf("second login: %d %s", again.status, again.raw)
	}
	// Both code exchanges authenticated with one cached ES256 client secret.
	if e.apple.TokenRequests() != 2 || e.apple.ClientSecretsSeen() != 1 {
		t.Fatalf("token requests %d, client secrets %d", e.apple.TokenRequests(), e.apple.ClientSecretsSeen())
	}
}

func TestAppleFormPostLinksByVerifiedEmail(t *testing.T) {
	t.Parallel()
	e := newAppleEnv(t)
	s := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana@example.com")})
	if s.status != 201 {
		t.Fatal(s.raw)
	}
	e.apple.SetUser(oidctest.User{Subject: "apple-ana", Email: "ana@example.com", EmailVerified: false, GivenName: "Impostor"})
	expectProblem(t, e.appleLogin("apple"), 403, riderapi.CodeOIDCEmailUnverified)
	e.apple.SetUser(oidctest.User{Subject: "apple-ana", Email: "ana@example.com", EmailVerified: true, GivenName: "Other"})
	r := e.appleLogin("apple")
	if r.status != 200 || r.body["created"] != false || r.body["rider"].(map[string]any)["id"] != s.body["rider"].(map[string]any)["id"] ||
		r.body["rider"].(map[string]any)["first_name"] != "Ana" {
		t.Fatalf("link: %d %s", r.status, r.raw)
	}
}

func TestAppleFormPostRejects(t *testing.T) {
	t.Parallel()
	parent := newAppleEnv(t)

	t.Run("tampered state", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		action, f := e.appleAuthorize(b, e.appleStart(b, "apple"))
		f.Set("state", f.Get("state")+"x")
		expectProblem(t, e.post(b, action, f), 400, riderapi.CodeOIDCStateInvalid)
	})
	t.Run("no state cookie (a forged cross-site POST)", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		action, f := e.appleAuthorize(b, e.appleStart(b, "apple"))
		expectProblem(t, e.post(browser(t), action, f), 400, riderapi.CodeOIDCStateInvalid)
	})
	t.Run("replayed form", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		action, f := e.appleAuthorize(b, e.appleStart(b, "apple"))
		au, _ := url.Parse(action)
		stolen := b.Jar.Cookies(au)
		if r := e.post(b, action, f); r.status != 200 {
			t.Fatalf("first use: %d %s", r.status, r.raw)
		}
		// The browser deleted the cookie: the replay fails the state check …
		expectProblem(t, e.post(b, action, f), 400, riderapi.CodeOIDCStateInvalid)
		// … and with a copy of the cookie the provider refuses the used code.
		replayer := browser(t)
		replayer.Jar.SetCookies(au, stolen)
		expectProblem(t, e.post(replayer, action, f), 401, riderapi.CodeOIDCFailed)
	})
	t.Run("state of another provider", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		// A query-mode login's cookie and state, posted to the Apple callback.
		cb := e.authorize(b, e.start(b))
		action, f := e.appleAuthorize(browser(t), e.appleStart(browser(t), "apple"))
		f.Set("state", cb.Query().Get("state"))
		expectProblem(t, e.post(b, action, f), 400, riderapi.CodeOIDCStateInvalid)
	})
	t.Run("client secret signed by another key", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		before := e.apple.TokenRequests()
		expectProblem(t, e.appleLogin("applebadkey"), 401, riderapi.CodeOIDCFailed)
		if e.apple.TokenRequests() != before {
			t.Fatal("provider issued tokens")
		}
		if !strings.Contains(e.logs.String(), "invalid_client") {
			t.Fatal("the provider's invalid_client is not in the warning")
		}
	})
	t.Run("GET at a form_post provider", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		action, f := e.appleAuthorize(b, e.appleStart(b, "apple"))
		r := e.callback(b, &url.URL{Scheme: "http", Host: strings.TrimPrefix(e.url, "http://"), Path: "/v1/auth/oidc/apple/callback", RawQuery: f.Encode()})
		expectProblem(t, r, 405, riderapi.CodeOIDCResponseMode)
		if r.header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", r.header.Get("Allow"))
		}
		// Refused before anything was spent: the same answer, POSTed, still logs in.
		if r := e.post(b, action, f); r.status != 200 {
			t.Fatalf("POST after the refused GET: %d %s", r.status, r.raw)
		}
	})
	t.Run("POST at a query provider", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		cb := e.authorize(b, e.start(b))
		r := e.post(b, e.url+"/v1/auth/oidc/test/callback", cb.Query())
		expectProblem(t, r, 405, riderapi.CodeOIDCResponseMode)
		if r.header.Get("Allow") != "GET" {
			t.Fatalf("Allow %q", r.header.Get("Allow"))
		}
		if r := e.callback(b, cb); r.status != 200 {
			t.Fatalf("GET after the refused POST: %d %s", r.status, r.raw)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		b := browser(t)
		action, f := e.appleAuthorize(b, e.appleStart(b, "apple"))
		expectProblem(t, e.post(b, action, url.Values{"error": {"user_cancelled_authorize"}, "state": {f.Get("state")}}), 401, riderapi.CodeOIDCDenied)
	})
	t.Run("bad forms", func(t *testing.T) {
		e := appleEnv{parent.with(t), parent.apple}
		cbURL := e.url + "/v1/auth/oidc/apple/callback"
		raw := func(ct, body string) response {
			t.Helper()
			res, err := http.Post(cbURL, ct, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			return e.asResponse(res)
		}
		form := "application/x-www-form-urlencoded"
		expectProblem(t, raw("application/json", `{"code":"c","state":"s"}`), 415, riderapi.CodeInvalidRequest)
		expectProblem(t, raw("", "code=c&state=s"), 415, riderapi.CodeInvalidRequest)
		expectProblem(t, raw(form, "code=c&state=%zz"), 400, riderapi.CodeInvalidRequest)
		expectProblem(t, raw(form, "code=c&state=a&state=b"), 422, riderapi.CodeInvalidRequest)
		expectProblem(t, raw(form, "state=s&code="+strings.Repeat("c", 2049)), 422, riderapi.CodeInvalidRequest)
		expectProblem(t, raw(form, "state=s&code=c&user="+strings.Repeat("u", rideroidc.MaxUserJSON+1)), 422, riderapi.CodeInvalidRequest)
		expectProblem(t, raw(form, "state=s&code=c&pad="+strings.Repeat("p", 17<<10)), 413, riderapi.CodeInvalidRequest)
		expectProblem(t, raw(form, "code=c&state=s"), 400, riderapi.CodeOIDCStateInvalid) // well-formed, no cookie
		res, err := http.Post(e.url+"/v1/auth/oidc/nope/callback", form, strings.NewReader("code=c&state=s"))
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, e.asResponse(res), 404, riderapi.CodeUnknownProvider)
	})
}

func TestAppleFormPostOpenAPI(t *testing.T) {
	t.Parallel()
	e := newAppleEnv(t)
	r := e.do(req{method: "GET", path: "/v1/openapi.json"})
	cb, _ := r.body["paths"].(map[string]any)["/v1/auth/oidc/{provider}/callback"].(map[string]any)
	post, ok := cb["post"].(map[string]any)
	if !ok || cb["get"] == nil {
		t.Fatalf("callback operations %v", cb)
	}
	if body := mustJSON(t, post["requestBody"]); !strings.Contains(body, "application/x-www-form-urlencoded") ||
		!strings.Contains(body, `"state"`) || !strings.Contains(body, `"user"`) {
		t.Fatalf("form body undocumented: %s", body)
	}
}
