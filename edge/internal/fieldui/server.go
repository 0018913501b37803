package fieldui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

//go:embed assets
var assets embed.FS

// ErrConfig is wrapped by every configuration error of the UI.
var ErrConfig = errors.New("fieldui: invalid configuration")

// Fleet is the live state the UI reads (fleet.Fleet).
type Fleet interface {
	Get(id protocol.VehicleID) (fleet.Vehicle, bool)
	List(keep func(*fleet.Vehicle) bool) []fleet.Vehicle
}

// Commands is the command queue the UI sends through (command.Manager).
type Commands interface {
	Send(ctx context.Context, v protocol.VehicleID, cmd protocol.Command, opts command.Options) *command.Pending
	Open(v protocol.VehicleID) []command.OpenCommand
	UpgradeOf(v protocol.VehicleID) (*command.Upgrade, bool)
}

// EventSink stores audit events in the outbox (the gateway's ingest Emit).
type EventSink interface{ Emit(ev link.Event) }

// Clock is the UI's time source (sessions, rate limits, vibration window).
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Config tunes the UI. Zero values take the defaults of each field.
type Config struct {
	// TileURL is a raster tile template such as
	// "https://tile.example.org/{z}/{x}/{y}.png" ({s} for a/b/c subdomains);
	// empty: a blank map with zones and vehicles only (works with no internet).
	TileURL string
	// TileAttribution is shown in the map corner when tiles are drawn.
	TileAttribution string
	// LowBatteryPct: a vehicle under this battery % needs attention (0: the
	// default 20; -1: no vehicle counts as low).
	LowBatteryPct int
	// VibrationWindow: a vibration alarm this recent needs attention (default 30 min).
	VibrationWindow time.Duration
	// SessionIdle ends a session unused this long (default 1 h); SessionMaxAge
	// ends any session this old (default 12 h, a shift).
	SessionIdle, SessionMaxAge time.Duration
	// MaxSessions bounds the session table (default 1000; the least recently
	// used is dropped beyond it).
	MaxSessions int
	// SecureCookies marks cookies Secure even on plain HTTP requests (set it
	// when a TLS proxy sits in front). Requests that arrive over TLS always
	// get Secure cookies.
	SecureCookies bool
	// LoginAttemptsPerMinute per client address (default 30: a depot behind one
	// NAT logs in at shift start) and
	// LoginFailuresPerUser per 15 minutes (default 5) before logins are refused
	// with 429.
	LoginAttemptsPerMinute, LoginFailuresPerUser int
	// CommandTimeout bounds how long a command waits for the scooter's reply
	// (default 15 s); a command for an offline scooter expires after it too.
	CommandTimeout time.Duration
	// LiveInterval is how often live map updates are computed (default 1 s).
	LiveInterval time.Duration
}

func (c *Config) setDefaults() {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	defInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	defInt(&c.LowBatteryPct, 20)
	def(&c.VibrationWindow, 30*time.Minute)
	def(&c.SessionIdle, time.Hour)
	def(&c.SessionMaxAge, 12*time.Hour)
	defInt(&c.MaxSessions, 1000)
	defInt(&c.LoginAttemptsPerMinute, 30)
	defInt(&c.LoginFailuresPerUser, 5)
	def(&c.CommandTimeout, 15*time.Second)
	def(&c.LiveInterval, time.Second)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.TileURL != "" {
		u, err := url.Parse(strings.ReplaceAll(c.TileURL, "{s}", "a"))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			!strings.Contains(c.TileURL, "{z}") || !strings.Contains(c.TileURL, "{x}") || !strings.Contains(c.TileURL, "{y}") {
			errs = append(errs, fmt.Errorf("%w: tile URL %q: want http(s)://host/…{z}…{x}…{y}…", ErrConfig, c.TileURL))
		}
	}
	if c.LowBatteryPct < -1 || c.LowBatteryPct > 100 {
		errs = append(errs, fmt.Errorf("%w: low battery %d%% outside -1-100", ErrConfig, c.LowBatteryPct))
	}
	for name, d := range map[string]time.Duration{"vibration window": c.VibrationWindow, "session idle": c.SessionIdle,
		"session max age": c.SessionMaxAge, "command timeout": c.CommandTimeout, "live interval": c.LiveInterval} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%w: %s is negative", ErrConfig, name))
		}
	}
	if c.MaxSessions < 0 || c.LoginAttemptsPerMinute < 0 || c.LoginFailuresPerUser < 0 {
		errs = append(errs, fmt.Errorf("%w: negative session or login limit", ErrConfig))
	}
	return errors.Join(errs...)
}

// Deps are what the UI reads and acts on. Fleet, Commands, Events, Accounts
// and History are required.
type Deps struct {
	Fleet    Fleet
	Commands Commands
	// Zones returns the zones in force (nil: none).
	Zones    func() *zone.Set
	Events   EventSink
	Accounts *Accounts
	History  *History
	// City and GatewayID are shown in the header and name the gateway in audit
	// events that concern no vehicle.
	City, GatewayID string
	Clock           Clock
	Logger          *slog.Logger
}

// Server is the field technicians' UI: embedded pages and the JSON/SSE API
// under /ui/. New starts one goroutine (the live-update hub); Close stops it
// and ends every open event stream (call it before the HTTP server's
// Shutdown, which does not cancel streaming requests).
type Server struct {
	cfg      Config
	d        Deps
	log      *slog.Logger
	clock    Clock
	sessions *sessions
	perIP    *limiter
	perUser  *limiter
	hub      *hub
	static   http.Handler
	// keepAlive is the event streams' keep-alive period (15 s), also when
	// they check that their session is still live.
	keepAlive time.Duration

	zonesMu    sync.Mutex
	zonesFor   *zone.Set
	zonesBytes []byte

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// New validates cfg and starts the live-update hub.
func New(cfg Config, d Deps) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Fleet == nil || d.Commands == nil || d.Events == nil || d.Accounts == nil || d.History == nil {
		return nil, fmt.Errorf("%w: Fleet, Commands, Events, Accounts and History are required", ErrConfig)
	}
	if d.Zones == nil {
		d.Zones = func() *zone.Set { return nil }
	}
	if d.Clock == nil {
		d.Clock = wallClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("fieldui: assets: %w", err)
	}
	s := &Server{cfg: cfg, d: d, log: d.Logger.With("component", "fieldui"), clock: d.Clock,
		sessions: newSessions(cfg.SessionIdle, cfg.SessionMaxAge, cfg.MaxSessions),
		perIP:    newLimiter(cfg.LoginAttemptsPerMinute, time.Minute),
		perUser:  newLimiter(cfg.LoginFailuresPerUser, 15*time.Minute),
		static:   http.StripPrefix("/ui/static/", http.FileServerFS(sub)),
		done:     make(chan struct{}), keepAlive: 15 * time.Second,
	}
	s.hub = newHub()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.runHub(ctx)
	}()
	return s, nil
}

// Close stops the hub and ends every event stream. Safe to call twice.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.hub.close()
	})
	return nil
}

// Routes mounts the UI on mux:
//
//	GET  /                           → redirect to /ui/
//	GET  /ui/                        the app (one page; login form when logged out)
//	GET  /ui/static/…                embedded CSS/JS
//	POST /ui/api/login               {"username","password"} → session cookie + CSRF token
//	POST /ui/api/logout              (CSRF)
//	GET  /ui/api/session             who is logged in, CSRF token, UI settings
//	GET  /ui/api/zones               zones by kind with their polygons
//	GET  /ui/api/vehicles[?q=&attention=1]   markers with category and attention reasons
//	GET  /ui/api/vehicles/{id}       state, last positions, recent events, open commands, firmware job
//	POST /ui/api/vehicles/{id}/commands {"action":"beep"} (CSRF) → the scooter's reply or timeout
//	GET  /ui/api/live                SSE: "snapshot" then "update" events of markers
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	mux.HandleFunc("GET /ui/{$}", s.page)
	mux.Handle("GET /ui/static/", s.headers(s.static))
	mux.HandleFunc("POST /ui/api/login", s.login)
	mux.HandleFunc("POST /ui/api/logout", s.authed(true, s.logout))
	mux.HandleFunc("GET /ui/api/session", s.authed(false, s.sessionInfo))
	mux.HandleFunc("GET /ui/api/zones", s.authed(false, s.zones))
	mux.HandleFunc("GET /ui/api/vehicles", s.authed(false, s.vehicles))
	mux.HandleFunc("GET /ui/api/vehicles/{id}", s.authed(false, s.vehicle))
	mux.HandleFunc("POST /ui/api/vehicles/{id}/commands", s.authed(true, s.command))
	mux.HandleFunc("GET /ui/api/live", s.authed(false, s.live))
}

// headers sets the security headers of every UI response. Scripts and
// styles come only from the gateway; images also from the tile server.
func (s *Server) headers(h http.Handler) http.Handler {
	img := "'self' data:"
	if o := tileOrigin(s.cfg.TileURL); o != "" {
		img += " " + o
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img +
		"; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func tileOrigin(tmpl string) string {
	if tmpl == "" {
		return ""
	}
	u, err := url.Parse(strings.ReplaceAll(tmpl, "{s}", "s"))
	if err != nil {
		return ""
	}
	host := u.Host
	if strings.HasPrefix(tmpl[len(u.Scheme)+3:], "{s}.") {
		host = "*." + strings.TrimPrefix(host, "s.")
	}
	return u.Scheme + "://" + host
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		s.problem(w, http.StatusInternalServerError, "page missing", "")
		return
	}
	s.headers(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b) // a failed write means the client left
	})).ServeHTTP(w, r)
}

type problemBody struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (s *Server) problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(problemBody{Title: title, Status: status, Detail: detail}); err != nil {
		s.log.Debug("write problem", "err", err)
	}
}

func (s *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("write response", "err", err)
	}
}

// clientIP is the peer address (no proxy headers are trusted: the gateway
// is reached directly on the local network).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit stores an audit record in the outbox as a link.Event of kind
// security (reason "fieldui:<action>", client_id = the technician). An action
// on no vehicle names the gateway ("gateway:<id>") as its subject, because
// every event of the uplink contract carries a vehicle.
func (s *Server) audit(vehicle, user, action, detail string) {
	if vehicle == "" {
		vehicle = "gateway:" + s.d.GatewayID
	}
	s.d.Events.Emit(link.Event{Vehicle: vehicle, Time: s.clock.Now().UTC(), Kind: link.EventSecurity,
		Security: &link.SecurityEvent{Reason: "fieldui:" + action, ClientID: user, Detail: detail}})
}
