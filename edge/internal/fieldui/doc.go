// Package fieldui owns the field technicians' web UI served by the city
// gateway under /ui/: embedded pages (plain HTML/CSS/JS, a canvas map in Web
// Mercator of its own, no CDN, nothing fetched at run time except optional
// raster tiles from a configured URL), the login, the sessions and the JSON
// and server-sent-events API the pages use. It only talks to the gateway it
// runs in, so it keeps working while the cloud is unreachable.
//
// # Accounts
//
// Accounts holds the technicians: an AccountsDoc (username, argon2id PHC hash,
// disabled) applied atomically, plus one break-glass account from the
// gateway's configuration, for when no pushed account works. The document
// comes from the cloud (link.TechniciansDoc, key link.ConfigTechnicians of
// the city's config bucket, only active technicians listed; the cloud link
// stores it in the configstore under DocAccounts, then Accounts.Prepare's
// install swaps it in) or, on a standalone gateway, from a local file stored
// under the same name; ParseAccounts reads both, so a restarted gateway logs
// technicians in from its stored copy while the cloud is unreachable.
// Passwords are never stored or logged; they are NFC-normalised (as the
// cloud's hasher does) and checked with argon2id; unknown users cost the same
// work as wrong passwords. Hash costs are bounded when a document is parsed
// (m ≤ 256 MiB, t ≤ 20), at most MaxConcurrentVerify checks run at once and
// at most MaxWaitingVerify wait (≤ 5 s); beyond that a login gets 503 with
// Retry-After, so a burst of logins cannot exhaust the gateway's memory.
//
// # Sessions and CSRF
//
// A login creates a server-side session (256-bit random id, memory only:
// a gateway restart logs everyone out) that ends after Config.SessionIdle
// without use, after Config.SessionMaxAge in any case, on logout, or when its
// account is removed, disabled or gets another password hash (Accounts.Valid,
// checked on every request and at each event-stream keep-alive). The cookie is HttpOnly and SameSite=Strict,
// and Secure (named __Host-fe_session) when the request came over TLS or
// Config.SecureCookies is set; on the plain-HTTP local listener it cannot be
// Secure (browsers would drop it), which is the documented exception — put a
// TLS proxy in front and set SecureCookies when the LAN is not trusted.
// Every state-changing request must carry the session's synchronizer token
// (GET /ui/api/session) in X-CSRF-Token; the login itself (no session yet)
// requires a JSON body and a same-origin Origin / Sec-Fetch-Site. Logins are
// rate limited per client address (Config.LoginAttemptsPerMinute) and per
// username (Config.LoginFailuresPerUser failures per 15 min) with 429 and
// Retry-After.
//
// # Audit
//
// Every action (login, failed or throttled login, logout, CSRF rejection,
// command) is stored in the outbox through Deps.Events as a link.Event of
// kind security with reason "fieldui:<action>" and the technician in
// client_id; the vehicle is the one acted on, or "gateway:<id>" for actions
// on none (the uplink contract requires a vehicle on every event). Commands
// also carry Source "fieldui:<user>" into their command_result event.
//
// # Live data
//
// One goroutine (started by New, stopped by Close) computes every vehicle's
// marker each Config.LiveInterval — category by priority lost, offline,
// fallen, error, low battery, on ride, available — and the attention reasons
// (lost, fallen, vibration within Config.VibrationWindow, controller error
// in words, battery under Config.LowBatteryPct), and sends only the changes
// to the open /ui/api/live streams. It also records each vehicle's new
// fixes in History, which the gateway feeds with every event it stores
// (History.ObserveEvent), for the vehicle page.
package fieldui
