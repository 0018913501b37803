package fieldui

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Cookie names: with Secure cookies the __Host- prefix also pins the cookie
// to this host and path "/".
const (
	cookieName       = "fe_session"
	secureCookieName = "__Host-fe_session"
	// CSRFHeader carries the session's synchronizer token on every state change.
	CSRFHeader = "X-CSRF-Token"
)

// loginWait bounds how long a login waits for a password-check slot
// (Accounts bounds concurrent argon2id work) before 503 with Retry-After.
const loginWait = 5 * time.Second

func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.cfg.SecureCookies }

func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return secureCookieName
	}
	return cookieName
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

// authed wraps h: a live session is required (401 otherwise), its account
// must still be active, and with csrf the request must carry the session's
// token in X-CSRF-Token (403 otherwise).
func (s *Server) authed(csrf bool, h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.clock.Now()
		c, err := r.Cookie(s.cookieName(r))
		if err != nil {
			s.problem(w, http.StatusUnauthorized, "login required", "")
			return
		}
		x, ok := s.sessions.get(c.Value, now)
		if !ok {
			s.problem(w, http.StatusUnauthorized, "login required", "session expired or unknown")
			return
		}
		if !s.d.Accounts.Valid(x.user) {
			s.sessions.remove(x.id)
			s.problem(w, http.StatusUnauthorized, "login required", "account no longer active")
			return
		}
		if csrf && !x.csrfOK(r.Header.Get(CSRFHeader)) {
			s.audit("", x.user.Username, "csrf_rejected", r.Method+" "+r.URL.Path)
			s.problem(w, http.StatusForbidden, "missing or wrong CSRF token", "send the token of GET /ui/api/session in "+CSRFHeader)
			return
		}
		h(w, r, x)
	}
}

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionBody struct {
	User       string         `json:"user"`
	Name       string         `json:"name,omitempty"`
	BreakGlass bool           `json:"break_glass"`
	CSRF       string         `json:"csrf"`
	Expires    time.Time      `json:"expires"`
	Settings   uiSettingsBody `json:"settings"`
}

type uiSettingsBody struct {
	City            string `json:"city"`
	GatewayID       string `json:"gateway_id"`
	TileURL         string `json:"tile_url"`
	TileAttribution string `json:"tile_attribution,omitempty"`
	LowBatteryPct   int    `json:"low_battery_pct"`
	CommandTimeoutS int    `json:"command_timeout_s"`
}

func (s *Server) sessionBody(x session) sessionBody {
	return sessionBody{User: x.user.Username, Name: x.user.Name, BreakGlass: x.user.BreakGlass, CSRF: x.csrf,
		Expires: x.created.Add(s.cfg.SessionMaxAge).UTC(),
		Settings: uiSettingsBody{City: s.d.City, GatewayID: s.d.GatewayID, TileURL: s.cfg.TileURL,
			TileAttribution: s.cfg.TileAttribution, LowBatteryPct: s.cfg.LowBatteryPct,
			CommandTimeoutS: int(s.cfg.CommandTimeout / time.Second)}}
}

// sameOrigin refuses cross-site login posts (login CSRF): a browser sends
// Origin on every POST and Sec-Fetch-Site in current versions.
func sameOrigin(r *http.Request) bool {
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" && sfs != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	ip := clientIP(r)
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.problem(w, http.StatusUnsupportedMediaType, "JSON body required", "")
		return
	}
	if !sameOrigin(r) {
		s.audit("", "", "login_cross_origin", "from "+ip)
		s.problem(w, http.StatusForbidden, "cross-origin login refused", "")
		return
	}
	if blocked, after := s.perIP.blocked(ip, now); blocked {
		s.tooMany(w, after)
		return
	}
	s.perIP.add(ip, now)
	var in loginBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	if err := dec.Decode(&in); err != nil || in.Username == "" || in.Password == "" || len(in.Password) > 1024 {
		s.problem(w, http.StatusBadRequest, "username and password required", "")
		return
	}
	// What was typed as a username is recorded only when it could be one
	// (a password typed in the wrong field must not reach the outbox or logs).
	who := in.Username
	if !usernameRE.MatchString(who) {
		who = "(not a username)"
	}
	if blocked, after := s.perUser.blocked(in.Username, now); blocked {
		s.audit("", who, "login_throttled", "from "+ip)
		s.tooMany(w, after)
		return
	}
	vctx, cancel := context.WithTimeout(r.Context(), loginWait)
	p, ok, err := s.d.Accounts.Check(vctx, in.Username, in.Password)
	cancel()
	if err != nil {
		s.log.Warn("technician login not checked: too many logins in progress", "ip", ip, "err", err)
		w.Header().Set("Retry-After", "2")
		s.problem(w, http.StatusServiceUnavailable, "too many logins in progress", "try again in a few seconds")
		return
	}
	if !ok {
		s.perUser.add(in.Username, now)
		s.audit("", who, "login_failed", "from "+ip)
		s.log.Info("technician login failed", "user", who, "ip", ip)
		s.problem(w, http.StatusUnauthorized, "wrong username or password", "")
		return
	}
	s.perUser.reset(in.Username)
	x, err := s.sessions.create(p, now)
	if err != nil {
		s.problem(w, http.StatusInternalServerError, "could not start a session", "")
		return
	}
	action := "login"
	if p.BreakGlass {
		action = "login_break_glass"
		s.log.Warn("break-glass login", "user", p.Username, "ip", ip)
	}
	s.audit("", p.Username, action, "from "+ip)
	s.setCookie(w, r, x.id, int(s.cfg.SessionMaxAge/time.Second))
	s.json(w, http.StatusOK, s.sessionBody(*x))
}

func (s *Server) tooMany(w http.ResponseWriter, after time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(after/time.Second)+1))
	s.problem(w, http.StatusTooManyRequests, "too many login attempts", "wait and try again")
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, x session) {
	s.sessions.remove(x.id)
	s.audit("", x.user.Username, "logout", "")
	s.setCookie(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) sessionInfo(w http.ResponseWriter, _ *http.Request, x session) {
	s.json(w, http.StatusOK, s.sessionBody(x))
}
