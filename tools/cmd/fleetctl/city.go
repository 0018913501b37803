package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// cityCommand is "fleetctl city": a city's configuration in the cloud, through the admin API.
func cityCommand() command {
	return command{
		name:    "city",
		summary: "manage a city's configuration in the cloud (admin API)",
		subs: []command{{
			name:    "import",
			summary: "create or update a city, its gateway, zones, vehicles and tariffs from files (idempotent)",
			long: "Logs in to the admin API as an admin (password from a file, never an argument) and makes the\n" +
				"city match the files: the city (created if missing; time zone from --timezone or the zones\n" +
				"document's data.fleetedge.timezone, currency from --currency or the tariffs file), a gateway\n" +
				"(--gateway), the geofencing document (uploaded; unchanged documents make no new version),\n" +
				"the vehicles (imported with their credential hashes, so the scooters' secrets keep working;\n" +
				"statuses are not touched) and the tariffs (created when missing; when the file's terms for\n" +
				"now differ from the tariff in force, a new tariff supersedes it from now). Running it again\n" +
				"changes nothing. With --wait it waits until the city's gateways' NATS bucket has every\n" +
				"document. Needs permissions vehicles.manage, zones.write and tariffs.write.\n\n" +
				"Files: --zones a GBFS v3 geofencing_zones.json; --vehicles a gateway vehicles document\n" +
				"({\"city\", \"vehicles\": [{\"id\", \"type\", \"credential_hash\", \"normal_limit_kmh\"}]}, as\n" +
				"scooter-sim provision writes it); --tariffs {\"currency\", \"tariffs\": [{\"effective_from\",\n" +
				"\"effective_to\"?, \"unlock_fee_minor\", \"per_minute_minor\", \"per_km_minor\", \"pause_per_minute_minor\",\n" +
				"\"parking_outside_zone_fine_minor\", \"minimum_balance_minor\", \"zone_surcharges\": [{\"zone\",\n" +
				"\"per_minute_minor\", \"fixed_minor\"}]}]} (amounts in minor units).",
			setup: cityImportSetup,
		}},
	}
}

// cityImportOptions are the flags of "city import".
type cityImportOptions struct {
	cloud, email, passwordFile     string
	city, name, timezone, currency string
	gateway                        string
	zones, vehicles, tariffs       string
	wait, timeout                  time.Duration
	now                            func() time.Time
}

func cityImportSetup(fs *flag.FlagSet) leafFunc {
	o := &cityImportOptions{now: time.Now}
	fs.StringVar(&o.cloud, "cloud", "http://127.0.0.1:8090", "cloud HTTP base URL")
	fs.StringVar(&o.email, "admin-email", "", "admin login email (required)")
	fs.StringVar(&o.passwordFile, "admin-password-file", "", "file holding the admin's password (required)")
	fs.StringVar(&o.city, "city", "", "city code, a-z 0-9 _ - (required)")
	fs.StringVar(&o.name, "name", "", "city display name for a new city (default: the code, capitalised)")
	fs.StringVar(&o.timezone, "timezone", "", "IANA time zone for a new city (default: the zones document's, else UTC)")
	fs.StringVar(&o.currency, "currency", "", "ISO 4217 currency for a new city (default: the tariffs file's)")
	fs.StringVar(&o.gateway, "gateway", "", "gateway code to register in the city and assign the vehicles to")
	fs.StringVar(&o.zones, "zones", "", "GBFS v3 geofencing_zones.json to upload")
	fs.StringVar(&o.vehicles, "vehicles", "", "vehicles document to import (credential hashes, never secrets)")
	fs.StringVar(&o.tariffs, "tariffs", "", "tariffs file to apply")
	fs.DurationVar(&o.wait, "wait", 0, "wait this long for the documents to reach the city's NATS bucket (0: do not wait)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "timeout of each request")
	return func(ctx context.Context, s streams, args []string) error {
		if len(args) != 0 {
			return usagef([]string{"city", "import"}, "unexpected arguments %q", args)
		}
		return cityImport(ctx, s, o)
	}
}

// vehiclesFile is a gateway vehicles document (protocol/link VehiclesDoc) as files hold it.
type vehiclesFile struct {
	City     string `json:"city"`
	Vehicles []struct {
		ID             string `json:"id"`
		Type           string `json:"type"`
		CredentialHash string `json:"credential_hash"`
		NormalLimitKmh int    `json:"normal_limit_kmh"`
		Disabled       bool   `json:"disabled"`
	} `json:"vehicles"`
}

// tariffTerms is a tariff as the admin API takes and shows it.
type tariffTerms struct {
	EffectiveFrom               time.Time       `json:"effective_from"`
	EffectiveTo                 *time.Time      `json:"effective_to,omitempty"`
	UnlockFeeMinor              int64           `json:"unlock_fee_minor"`
	PerMinuteMinor              int64           `json:"per_minute_minor"`
	PerKmMinor                  int64           `json:"per_km_minor"`
	PausePerMinuteMinor         int64           `json:"pause_per_minute_minor"`
	ParkingOutsideZoneFineMinor int64           `json:"parking_outside_zone_fine_minor"`
	MinimumBalanceMinor         int64           `json:"minimum_balance_minor"`
	ZoneSurcharges              []zoneSurcharge `json:"zone_surcharges"`
	Supersede                   bool            `json:"supersede,omitempty"`
	ID                          int64           `json:"id,omitempty"`
}

type zoneSurcharge struct {
	Zone           string `json:"zone"`
	PerMinuteMinor int64  `json:"per_minute_minor"`
	FixedMinor     int64  `json:"fixed_minor"`
}

type tariffsFile struct {
	Currency string        `json:"currency"`
	Tariffs  []tariffTerms `json:"tariffs"`
}

// samePrices reports whether two tariffs charge the same (dates aside).
func samePrices(a, b tariffTerms) bool {
	if a.UnlockFeeMinor != b.UnlockFeeMinor || a.PerMinuteMinor != b.PerMinuteMinor || a.PerKmMinor != b.PerKmMinor ||
		a.PausePerMinuteMinor != b.PausePerMinuteMinor || a.ParkingOutsideZoneFineMinor != b.ParkingOutsideZoneFineMinor ||
		a.MinimumBalanceMinor != b.MinimumBalanceMinor {
		return false
	}
	norm := func(s []zoneSurcharge) []zoneSurcharge {
		out := slices.Clone(s)
		slices.SortFunc(out, func(x, y zoneSurcharge) int { return strings.Compare(x.Zone, y.Zone) })
		return out
	}
	return slices.Equal(norm(a.ZoneSurcharges), norm(b.ZoneSurcharges))
}

// inForce returns the tariff of ts in force at t.
func inForce(ts []tariffTerms, t time.Time) (tariffTerms, bool) {
	for _, x := range ts {
		if !x.EffectiveFrom.After(t) && (x.EffectiveTo == nil || x.EffectiveTo.After(t)) {
			return x, true
		}
	}
	return tariffTerms{}, false
}

// readJSON decodes a file, naming it in errors.
func readJSON(path string, v any) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// importBatch is how many vehicles go in one import request.
const importBatch = 5000

func cityImport(ctx context.Context, s streams, o *cityImportOptions) error {
	path := []string{"city", "import"}
	switch {
	case o.email == "" || o.passwordFile == "":
		return usagef(path, "--admin-email and --admin-password-file are required")
	case o.city == "":
		return usagef(path, "--city is required")
	}
	pw, err := os.ReadFile(o.passwordFile)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	password := strings.TrimRight(string(pw), "\r\n")

	// Read every file first: a bad file changes nothing in the cloud.
	var zones []byte
	var zoneHead struct {
		Data struct {
			Fleetedge struct {
				Timezone string `json:"timezone"`
			} `json:"fleetedge"`
		} `json:"data"`
	}
	if o.zones != "" {
		if zones, err = readJSON(o.zones, &zoneHead); err != nil {
			return fmt.Errorf("zones: %w", err)
		}
	}
	var vf vehiclesFile
	if o.vehicles != "" {
		if _, err := readJSON(o.vehicles, &vf); err != nil {
			return fmt.Errorf("vehicles: %w", err)
		}
		if vf.City != "" && vf.City != o.city {
			return fmt.Errorf("vehicles: %s is for city %q, not %q", o.vehicles, vf.City, o.city)
		}
	}
	var tf tariffsFile
	if o.tariffs != "" {
		if _, err := readJSON(o.tariffs, &tf); err != nil {
			return fmt.Errorf("tariffs: %w", err)
		}
		slices.SortFunc(tf.Tariffs, func(a, b tariffTerms) int { return a.EffectiveFrom.Compare(b.EffectiveFrom) })
	}

	c, err := newAdminClient(o.cloud, o.timeout)
	if err != nil {
		return usagef(path, "%w", err)
	}
	if err := c.login(ctx, o.email, password); err != nil {
		return err
	}
	defer func() {
		if err := c.logout(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(s.err, "fleetctl: logout: %v\n", err)
		}
	}()
	out := func(format string, a ...any) { fmt.Fprintf(s.out, format+"\n", a...) }
	cityPath := "/cities/" + o.city

	// City.
	var city struct {
		Currency string `json:"currency"`
	}
	err = c.do(ctx, http.MethodGet, cityPath, nil, &city)
	switch {
	case isStatus(err, http.StatusNotFound):
		name, tz, cur := o.name, o.timezone, o.currency
		if name == "" {
			name = strings.ToUpper(o.city[:1]) + o.city[1:]
		}
		if tz == "" {
			tz = zoneHead.Data.Fleetedge.Timezone
		}
		if cur == "" {
			cur = tf.Currency
		}
		if cur == "" {
			return usagef(path, "--currency (or a tariffs file with a currency) is needed to create city %s", o.city)
		}
		body := map[string]string{"code": o.city, "name": name, "currency": cur}
		if tz != "" {
			body["timezone"] = tz
		}
		if err := c.do(ctx, http.MethodPost, "/cities", body, &city); err != nil {
			return err
		}
		out("city %s: created (%s, %s)", o.city, cur, tzOr(tz))
	case err != nil:
		return err
	default:
		out("city %s: exists", o.city)
	}
	if tf.Currency != "" && tf.Currency != city.Currency {
		return fmt.Errorf("tariffs: %s is in %s, city %s charges in %s", o.tariffs, tf.Currency, o.city, city.Currency)
	}

	// Gateway.
	if o.gateway != "" {
		err := c.do(ctx, http.MethodPost, cityPath+"/gateways", map[string]string{"code": o.gateway}, nil)
		var p *apiProblem
		switch {
		case err == nil:
			out("gateway %s: created", o.gateway)
		case errors.As(err, &p) && p.Code == "gateway_exists":
			out("gateway %s: exists", o.gateway)
		default:
			return err
		}
	}

	// Zones: the cloud makes no new version for an unchanged document.
	if zones != nil {
		var res struct {
			Zones struct {
				Version int `json:"version"`
				Zones   int `json:"zones"`
			} `json:"zones"`
			Created bool `json:"created"`
		}
		if err := c.do(ctx, http.MethodPut, cityPath+"/zones", zones, &res); err != nil {
			return err
		}
		state := "unchanged"
		if res.Created {
			state = "uploaded"
		}
		out("zones: version %d %s (%d zones)", res.Zones.Version, state, res.Zones.Zones)
	}

	// Vehicles, in batches.
	if o.vehicles != "" {
		var created, updated, unchanged, disabled int
		for start := 0; start < len(vf.Vehicles); start += importBatch {
			batch := vf.Vehicles[start:min(start+importBatch, len(vf.Vehicles))]
			vs := make([]map[string]any, 0, len(batch))
			for _, v := range batch {
				m := map[string]any{"number": v.ID, "credential_hash": v.CredentialHash}
				if v.Type != "" {
					m["type"] = v.Type
				}
				if v.NormalLimitKmh != 0 {
					m["normal_speed_limit_kmh"] = v.NormalLimitKmh
				}
				if o.gateway != "" {
					m["gateway"] = o.gateway
				}
				if v.Disabled {
					disabled++
				}
				vs = append(vs, m)
			}
			var res struct {
				Created, Updated []string
				Unchanged        int
			}
			if err := c.do(ctx, http.MethodPost, cityPath+"/vehicles/import", map[string]any{"vehicles": vs}, &res); err != nil {
				return err
			}
			created, updated, unchanged = created+len(res.Created), updated+len(res.Updated), unchanged+res.Unchanged
		}
		out("vehicles: %d created, %d updated, %d unchanged", created, updated, unchanged)
		if disabled > 0 {
			fmt.Fprintf(s.err, "fleetctl: %d vehicles are disabled in %s: imported; retire them with the admin API (status retired)\n", disabled, o.vehicles)
		}
	}

	// Tariffs.
	if o.tariffs != "" {
		n, err := importTariffs(ctx, c, cityPath, tf.Tariffs, o.now().UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		out("tariffs: %d created", n)
	}

	return waitPushed(ctx, c, cityPath, o.wait, out)
}

func tzOr(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// importTariffs makes the city's tariffs match file (sorted by effective_from) and returns
// how many it created: none exist → all are created; the file's tariff for now differs
// from the one in force → the file's prices supersede it from now; a future tariff of the
// file not yet there → created, superseding what would be in force then.
func importTariffs(ctx context.Context, c *adminClient, cityPath string, file []tariffTerms, now time.Time) (int, error) {
	var list struct {
		Tariffs []tariffTerms `json:"tariffs"`
	}
	if err := c.do(ctx, http.MethodGet, cityPath+"/tariffs", nil, &list); err != nil {
		return 0, err
	}
	create := func(t tariffTerms) error {
		t.ID = 0
		return c.do(ctx, http.MethodPost, cityPath+"/tariffs", t, nil)
	}
	if len(list.Tariffs) == 0 {
		for _, t := range file {
			if err := create(t); err != nil {
				return 0, err
			}
		}
		return len(file), nil
	}
	n := 0
	if want, ok := inForce(file, now); ok {
		cur, has := inForce(list.Tariffs, now)
		if !has || !samePrices(want, cur) {
			want.EffectiveFrom, want.Supersede = now, true
			if err := create(want); err != nil {
				return n, fmt.Errorf("tariffs: new prices from now: %w", err)
			}
			n++
		}
	}
	for _, t := range file {
		if !t.EffectiveFrom.After(now) {
			continue
		}
		if have := slices.IndexFunc(list.Tariffs, func(x tariffTerms) bool {
			return x.EffectiveFrom.Equal(t.EffectiveFrom) && samePrices(x, t)
		}); have >= 0 {
			continue
		}
		t.Supersede = true
		if err := create(t); err != nil {
			return n, fmt.Errorf("tariffs: from %s: %w", t.EffectiveFrom.Format(time.RFC3339), err)
		}
		n++
	}
	return n, nil
}

// waitPushed waits until no document of the city is pending (in the gateways' bucket).
func waitPushed(ctx context.Context, c *adminClient, cityPath string, wait time.Duration, out func(string, ...any)) error {
	type state struct {
		Kind             string `json:"kind"`
		Version          int64  `json:"version"`
		PublishedVersion int64  `json:"published_version"`
		Pending          bool   `json:"pending"`
		PublishError     string `json:"publish_error"`
	}
	deadline := time.Now().Add(wait)
	for {
		var city struct {
			Config []state `json:"config"`
		}
		if err := c.do(ctx, http.MethodGet, cityPath, nil, &city); err != nil {
			return err
		}
		var pending []state
		for _, s := range city.Config {
			if s.Pending {
				pending = append(pending, s)
			}
		}
		if len(pending) == 0 || wait <= 0 || time.Now().After(deadline) {
			var b bytes.Buffer
			for i, s := range city.Config {
				if i > 0 {
					b.WriteString(", ")
				}
				st := "published"
				if s.Pending {
					st = "pending"
					if s.PublishError != "" {
						st += " (" + s.PublishError + ")"
					}
				}
				fmt.Fprintf(&b, "%s v%d %s", s.Kind, s.Version, st)
			}
			out("gateway config: %s", b.String())
			if len(pending) > 0 && wait > 0 {
				return fmt.Errorf("city %s: %d documents not in the gateways' bucket after %v", strings.TrimPrefix(cityPath, "/cities/"), len(pending), wait)
			}
			return nil
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
