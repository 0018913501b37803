package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
)

// Bounds of the analytics windows and parameters.
const (
	MaxHourlyWindow  = 31 * 24 * time.Hour  // rides per hour, utilisation
	MaxDailyWindow   = 400 * 24 * time.Hour // rides per day
	MaxHeatmapWindow = 92 * 24 * time.Hour
)

// Deps is what the analytics routes need.
type Deps struct {
	PG         Querier
	ClickHouse func() *chstore.Store
	Now        func() time.Time
	Log        *slog.Logger
}

// ErrUnknownCity means no city has the requested code.
var ErrUnknownCity = errors.New("analytics: unknown city")

// errInvalid marks a bad parameter combination (422).
var errInvalid = errors.New("analytics: invalid request")

type handlers struct {
	d   Deps
	log *slog.Logger
}

// Register adds the analytics operations (GET /admin/v1/analytics/…, permission
// analytics.read) to api.
func Register(api *adminapi.API, d Deps) error {
	if d.PG == nil || d.ClickHouse == nil {
		return errors.New("analytics: PostgreSQL and ClickHouse are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{d: d, log: d.Log.With("component", "analytics")}
	tags := []string{"analytics"}
	errs := []int{http.StatusNotFound, http.StatusServiceUnavailable}
	perm := adminapi.Requires(admin.PermAnalyticsRead)
	adminapi.Register(api, huma.Operation{OperationID: "analytics-rides", Method: http.MethodGet, Path: adminapi.Prefix + "/analytics/rides",
		Tags: tags, Summary: "Rides and revenue per hour or day",
		Description: "Ended rides of a city that started in [from, to), per UTC hour (window ≤ 31 days) or day (≤ 400 days) and currency; " +
			"a ride counts in the bucket it started in. Buckets without rides are omitted."},
		perm, errs, h.rides)
	adminapi.Register(api, huma.Operation{OperationID: "analytics-utilisation", Method: http.MethodGet, Path: adminapi.Prefix + "/analytics/utilisation",
		Tags: tags, Summary: "Fleet utilisation per hour",
		Description: "Per UTC hour of [from, to) (rounded out to whole hours, ≤ 31 days): fleet = distinct vehicles that sent telemetry " +
			"in the hour or were on a ride during it; riding = distinct vehicles on an ended ride during part of the hour; " +
			"share = riding / fleet; time_share = ride seconds / (fleet × 3600). Rides still running are not counted until they end; " +
			"rides started more than 24 h before the window are ignored. Hours without telemetry or rides are omitted."},
		perm, errs, h.utilisation)
	adminapi.Register(api, huma.Operation{OperationID: "analytics-battery", Method: http.MethodGet, Path: adminapi.Prefix + "/analytics/battery",
		Tags: tags, Summary: "Battery distribution of the fleet",
		Description: "The latest battery level of every vehicle that sent telemetry in the last `hours` hours, in ten 10 % buckets " +
			"(the last one includes 100 %)."},
		perm, errs, h.battery)
	adminapi.Register(api, huma.Operation{OperationID: "analytics-attention", Method: http.MethodGet, Path: adminapi.Prefix + "/analytics/attention",
		Tags: tags, Summary: "Vehicles needing attention",
		Description: "Vehicles of the registry (not retired) with at least one reason: low_battery (latest battery below " +
			"low_battery_pct), fallen, error (latest error code non-zero), lost (no telemetry for lost_after_minutes, or none " +
			"in the last 24 h), marked_lost (registry status lost), alarm (alarm events within alarm_minutes). " +
			"From the latest telemetry record of each vehicle in the last 24 h."},
		perm, errs, h.attention)
	adminapi.Register(api, huma.Operation{OperationID: "analytics-heatmap", Method: http.MethodGet, Path: adminapi.Prefix + "/analytics/heatmap",
		Tags: tags, Summary: "Heatmap of ride starts and ends",
		Description: "Start and end positions of the ended rides started in [from, to) (≤ 92 days), binned on a grid of about " +
			"cell_m × cell_m metres (longitude step scaled at the rides' mean latitude); the busiest max_cells cells."},
		perm, errs, h.heatmap)
	return nil
}

// CityWindow are the query parameters common to the windowed analytics (exported: huma reads
// only exported embedded structs).
type CityWindow struct {
	City string    `query:"city" required:"true" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	From time.Time `query:"from" required:"true" doc:"Window start (RFC 3339, inclusive)"`
	To   time.Time `query:"to" required:"true" doc:"Window end (RFC 3339, exclusive)"`
}

func (c CityWindow) window(limit time.Duration) (chstore.Window, error) {
	if !c.From.Before(c.To) {
		return chstore.Window{}, fmt.Errorf("%w: to must be after from", errInvalid)
	}
	if c.To.Sub(c.From) > limit {
		return chstore.Window{}, fmt.Errorf("%w: window longer than %d days", errInvalid, int(limit/(24*time.Hour)))
	}
	return chstore.Window{From: c.From.UTC(), To: c.To.UTC()}, nil
}

// city returns the city's currency after checking it exists.
func (h *handlers) city(ctx context.Context, code string) (string, error) {
	var cur string
	err := h.d.PG.QueryRow(ctx, `SELECT currency::text FROM cities WHERE code = $1`, code).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrUnknownCity, code)
	}
	if err != nil {
		return "", fmt.Errorf("analytics: city %s: %w", code, err)
	}
	return cur, nil
}

func (h *handlers) store() (*chstore.Store, error) {
	st := h.d.ClickHouse()
	if st == nil {
		return nil, ErrNoClickHouse
	}
	return st, nil
}

// problemFor turns errors into problems: the one place for this package.
func (h *handlers) problemFor(op string, err error) error {
	switch {
	case errors.Is(err, errInvalid), errors.Is(err, chstore.ErrInvalidQuery):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, err.Error())
	case errors.Is(err, ErrUnknownCity):
		return adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, "no such city")
	case errors.Is(err, ErrNoClickHouse):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "analytics store not connected; retry later")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	h.log.Error("request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}

// --- rides per bucket ---

type ridesInput struct {
	CityWindow
	Bucket string `query:"bucket" enum:"hour,day" default:"hour" doc:"Bucket width (UTC)"`
}

// RideStatsBucket is the rides of one bucket in one currency.
type RideStatsBucket struct {
	Start          time.Time `json:"start" doc:"Start of the bucket (UTC)"`
	Currency       string    `json:"currency" doc:"ISO 4217 currency of the fares"`
	Rides          int64     `json:"rides" doc:"Rides started in the bucket"`
	RevenueMinor   int64     `json:"revenue_minor" doc:"Sum of the rides' fare totals, in minor units of currency"`
	DistanceM      int64     `json:"distance_m" doc:"Sum of the rides' distances in metres"`
	RideSeconds    int64     `json:"ride_seconds" doc:"Sum of the rides' durations in seconds"`
	AvgFareMinor   int64     `json:"avg_fare_minor" doc:"revenue_minor / rides, rounded down"`
	AvgRideSeconds int64     `json:"avg_ride_seconds" doc:"ride_seconds / rides, rounded down"`
}

// RideStatsBody is the answer of analytics-rides.
type RideStatsBody struct {
	City    string            `json:"city" doc:"City code"`
	Bucket  string            `json:"bucket" enum:"hour,day" doc:"Bucket width"`
	Buckets []RideStatsBucket `json:"buckets" nullable:"false" doc:"Buckets with rides, ascending by start, then currency"`
}

type ridesOutput struct{ Body RideStatsBody }

func (h *handlers) rides(ctx context.Context, in *ridesInput) (*ridesOutput, error) {
	limit := MaxHourlyWindow
	if in.Bucket == string(chstore.BucketDay) {
		limit = MaxDailyWindow
	}
	w, err := in.window(limit)
	if err != nil {
		return nil, h.problemFor("rides", err)
	}
	if _, err := h.city(ctx, in.City); err != nil {
		return nil, h.problemFor("rides", err)
	}
	st, err := h.store()
	if err != nil {
		return nil, h.problemFor("rides", err)
	}
	bs, err := st.RidesPerBucket(ctx, in.City, w, chstore.Bucket(in.Bucket))
	if err != nil {
		return nil, h.problemFor("rides", err)
	}
	out := &ridesOutput{Body: RideStatsBody{City: in.City, Bucket: in.Bucket, Buckets: make([]RideStatsBucket, 0, len(bs))}}
	for _, b := range bs {
		n := int64(b.Rides)
		out.Body.Buckets = append(out.Body.Buckets, RideStatsBucket{Start: b.Start, Currency: b.Currency, Rides: n,
			RevenueMinor: b.FareTotalMinor, DistanceM: int64(b.DistanceM), RideSeconds: int64(b.DurationS),
			AvgFareMinor: b.FareTotalMinor / n, AvgRideSeconds: int64(b.DurationS) / n})
	}
	return out, nil
}

// --- utilisation ---

type utilisationInput struct{ CityWindow }

// UtilisationHourBody is the fleet's use in one hour.
type UtilisationHourBody struct {
	Hour        time.Time `json:"hour" doc:"Start of the UTC hour"`
	Fleet       int64     `json:"fleet" doc:"Distinct vehicles that sent telemetry in the hour or were on a ride during it"`
	Riding      int64     `json:"riding" doc:"Distinct vehicles on an ended ride during part of the hour"`
	RideSeconds int64     `json:"ride_seconds" doc:"Seconds of rides within the hour, summed over rides"`
	Share       float64   `json:"share" minimum:"0" maximum:"1" doc:"riding / fleet (0 when fleet is 0)"`
	TimeShare   float64   `json:"time_share" minimum:"0" doc:"ride_seconds / (fleet × 3600) (0 when fleet is 0)"`
}

// UtilisationBody is the answer of analytics-utilisation.
type UtilisationBody struct {
	City  string                `json:"city" doc:"City code"`
	Hours []UtilisationHourBody `json:"hours" nullable:"false" doc:"Hours with telemetry or rides, ascending"`
}

type utilisationOutput struct{ Body UtilisationBody }

func (h *handlers) utilisation(ctx context.Context, in *utilisationInput) (*utilisationOutput, error) {
	w, err := in.window(MaxHourlyWindow)
	if err != nil {
		return nil, h.problemFor("utilisation", err)
	}
	if _, err := h.city(ctx, in.City); err != nil {
		return nil, h.problemFor("utilisation", err)
	}
	st, err := h.store()
	if err != nil {
		return nil, h.problemFor("utilisation", err)
	}
	us, err := st.Utilisation(ctx, in.City, w)
	if err != nil {
		return nil, h.problemFor("utilisation", err)
	}
	out := &utilisationOutput{Body: UtilisationBody{City: in.City, Hours: make([]UtilisationHourBody, 0, len(us))}}
	for _, u := range us {
		b := UtilisationHourBody{Hour: u.Hour, Fleet: int64(u.Fleet), Riding: int64(u.Riding), RideSeconds: int64(u.RideSeconds)}
		if u.Fleet > 0 {
			b.Share = float64(u.Riding) / float64(u.Fleet)
			b.TimeShare = float64(u.RideSeconds) / (float64(u.Fleet) * 3600)
		}
		out.Body.Hours = append(out.Body.Hours, b)
	}
	return out, nil
}

// --- battery ---

type batteryInput struct {
	City  string `query:"city" required:"true" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Hours int    `query:"hours" minimum:"1" maximum:"168" default:"24" doc:"Vehicles that sent telemetry in the last this many hours"`
}

// BatteryBucketBody counts the vehicles whose latest battery level is in [from_pct, to_pct).
type BatteryBucketBody struct {
	FromPct  int   `json:"from_pct" minimum:"0" maximum:"90" doc:"Lower bound (inclusive), percent"`
	ToPct    int   `json:"to_pct" minimum:"10" maximum:"101" doc:"Upper bound (exclusive), percent; 101 for the last bucket (includes 100)"`
	Vehicles int64 `json:"vehicles" doc:"Vehicles in the bucket"`
}

// BatteryBody is the answer of analytics-battery.
type BatteryBody struct {
	City     string              `json:"city" doc:"City code"`
	Since    time.Time           `json:"since" doc:"Only vehicles with telemetry since this time"`
	Vehicles int64               `json:"vehicles" doc:"Vehicles counted (sum of the buckets)"`
	Buckets  []BatteryBucketBody `json:"buckets" nullable:"false" doc:"Ten buckets, ascending"`
}

type batteryOutput struct{ Body BatteryBody }

func (h *handlers) battery(ctx context.Context, in *batteryInput) (*batteryOutput, error) {
	if _, err := h.city(ctx, in.City); err != nil {
		return nil, h.problemFor("battery", err)
	}
	st, err := h.store()
	if err != nil {
		return nil, h.problemFor("battery", err)
	}
	now := h.d.Now().UTC()
	w := chstore.Window{From: now.Add(-time.Duration(in.Hours) * time.Hour), To: now.Add(time.Millisecond)}
	bs, err := st.BatteryDistribution(ctx, in.City, w)
	if err != nil {
		return nil, h.problemFor("battery", err)
	}
	out := &batteryOutput{Body: BatteryBody{City: in.City, Since: w.From, Buckets: make([]BatteryBucketBody, 10)}}
	for i := range out.Body.Buckets {
		out.Body.Buckets[i] = BatteryBucketBody{FromPct: i * 10, ToPct: i*10 + 10}
	}
	out.Body.Buckets[9].ToPct = 101
	for _, b := range bs {
		i := min(int(b.FromPct)/10, 9)
		out.Body.Buckets[i].Vehicles += int64(b.Vehicles)
		out.Body.Vehicles += int64(b.Vehicles)
	}
	return out, nil
}

// --- attention ---

type attentionInput struct {
	City          string `query:"city" required:"true" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	LowBatteryPct int    `query:"low_battery_pct" minimum:"1" maximum:"100" default:"20" doc:"Battery below this is low"`
	LostAfter     int    `query:"lost_after_minutes" minimum:"1" maximum:"1440" default:"30" doc:"No telemetry for this long: lost"`
	AlarmWithin   int    `query:"alarm_minutes" minimum:"1" maximum:"1440" default:"60" doc:"Alarm events (theft, zone, …) in the last this many minutes: alarm"`
	Limit         int    `query:"limit" minimum:"1" maximum:"10000" default:"1000" doc:"At most this many vehicles (by vehicle number)"`
}

// Attention reasons.
const (
	ReasonLowBattery = "low_battery"
	ReasonFallen     = "fallen"
	ReasonError      = "error"
	ReasonLost       = "lost"
	ReasonMarkedLost = "marked_lost"
	ReasonAlarm      = "alarm"
)

// AttentionVehicleBody is one vehicle needing attention.
type AttentionVehicleBody struct {
	Vehicle    string     `json:"vehicle" doc:"Vehicle number"`
	Status     string     `json:"status" doc:"Registry status (available, in_ride, maintenance, …)"`
	Reasons    []string   `json:"reasons" nullable:"false" minItems:"1" doc:"Why: low_battery, fallen, error, lost, marked_lost, alarm"`
	LastSeen   *time.Time `json:"last_seen,omitempty" doc:"Time of the latest telemetry in the last 24 h; absent when none"`
	Lat        float64    `json:"lat" doc:"Latest latitude (0 when no telemetry)"`
	Lon        float64    `json:"lon" doc:"Latest longitude (0 when no telemetry)"`
	BatteryPct int        `json:"battery_pct" minimum:"0" maximum:"100" doc:"Latest battery level (0 when no telemetry)"`
	ErrorCode  int        `json:"error_code" minimum:"0" doc:"Latest error code, 0 for none"`
	Alarms     int        `json:"alarms" minimum:"0" doc:"Alarm events within alarm_minutes"`
	LastAlarm  *time.Time `json:"last_alarm,omitempty" doc:"Time of the latest of those alarms; absent when none"`
}

// AttentionBody is the answer of analytics-attention.
type AttentionBody struct {
	City      string                 `json:"city" doc:"City code"`
	At        time.Time              `json:"at" doc:"When the state was evaluated"`
	Vehicles  []AttentionVehicleBody `json:"vehicles" nullable:"false" doc:"Vehicles needing attention, by vehicle number"`
	Truncated bool                   `json:"truncated" doc:"More vehicles need attention than limit"`
}

type attentionOutput struct{ Body AttentionBody }

func (h *handlers) attention(ctx context.Context, in *attentionInput) (*attentionOutput, error) {
	if _, err := h.city(ctx, in.City); err != nil {
		return nil, h.problemFor("attention", err)
	}
	st, err := h.store()
	if err != nil {
		return nil, h.problemFor("attention", err)
	}
	now := h.d.Now().UTC()
	states, err := st.LatestStates(ctx, in.City, chstore.Window{From: now.Add(-24 * time.Hour), To: now.Add(time.Millisecond)})
	if err != nil {
		return nil, h.problemFor("attention", err)
	}
	byVehicle := make(map[string]chstore.VehicleState, len(states))
	for _, s := range states {
		byVehicle[s.Vehicle] = s
	}
	alarmList, err := st.EventCountsByVehicle(ctx, in.City, "alarm",
		chstore.Window{From: now.Add(-time.Duration(in.AlarmWithin) * time.Minute), To: now.Add(time.Millisecond)})
	if err != nil {
		return nil, h.problemFor("attention", err)
	}
	alarms := make(map[string]chstore.VehicleEventCount, len(alarmList))
	for _, a := range alarmList {
		alarms[a.Vehicle] = a
	}
	rows, err := h.d.PG.Query(ctx, `SELECT v.number, v.status FROM vehicles v JOIN cities c ON c.id = v.city_id
		WHERE c.code = $1 AND v.status <> 'retired' ORDER BY v.number`, in.City)
	if err != nil {
		return nil, h.problemFor("attention", fmt.Errorf("analytics: attention: registry: %w", err))
	}
	type reg struct{ number, status string }
	regs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reg, error) {
		var x reg
		return x, r.Scan(&x.number, &x.status)
	})
	if err != nil {
		return nil, h.problemFor("attention", fmt.Errorf("analytics: attention: registry: %w", err))
	}
	lostBefore := now.Add(-time.Duration(in.LostAfter) * time.Minute)
	out := &attentionOutput{Body: AttentionBody{City: in.City, At: now, Vehicles: []AttentionVehicleBody{}}}
	for _, r := range regs {
		v := AttentionVehicleBody{Vehicle: r.number, Status: r.status, Reasons: []string{}}
		s, seen := byVehicle[r.number]
		if seen {
			t := s.Time
			v.LastSeen, v.Lat, v.Lon, v.BatteryPct, v.ErrorCode = &t, s.Lat, s.Lon, int(s.BatteryPct), int(s.ErrorCode)
			if int(s.BatteryPct) < in.LowBatteryPct {
				v.Reasons = append(v.Reasons, ReasonLowBattery)
			}
			if s.Fallen {
				v.Reasons = append(v.Reasons, ReasonFallen)
			}
			if s.ErrorCode != 0 {
				v.Reasons = append(v.Reasons, ReasonError)
			}
		}
		if !seen || s.Time.Before(lostBefore) {
			v.Reasons = append(v.Reasons, ReasonLost)
		}
		if r.status == "lost" {
			v.Reasons = append(v.Reasons, ReasonMarkedLost)
		}
		if a, ok := alarms[r.number]; ok {
			last := a.Last
			v.Reasons, v.Alarms, v.LastAlarm = append(v.Reasons, ReasonAlarm), int(a.Count), &last
		}
		if len(v.Reasons) == 0 {
			continue
		}
		if len(out.Body.Vehicles) == in.Limit {
			out.Body.Truncated = true
			break
		}
		out.Body.Vehicles = append(out.Body.Vehicles, v)
	}
	return out, nil
}

// --- heatmap ---

type heatmapInput struct {
	CityWindow
	CellM    int `query:"cell_m" minimum:"10" maximum:"10000" default:"250" doc:"Cell size in metres"`
	MaxCells int `query:"max_cells" minimum:"1" maximum:"10000" default:"2000" doc:"Return at most this many cells (the busiest)"`
}

// HeatCellBody is one grid cell.
type HeatCellBody struct {
	MinLat float64 `json:"min_lat" doc:"South edge (degrees)"`
	MinLon float64 `json:"min_lon" doc:"West edge (degrees)"`
	MaxLat float64 `json:"max_lat" doc:"North edge (degrees)"`
	MaxLon float64 `json:"max_lon" doc:"East edge (degrees)"`
	Starts int64   `json:"starts" doc:"Rides that started in the cell"`
	Ends   int64   `json:"ends" doc:"Rides that ended in the cell"`
}

// HeatmapBody is the answer of analytics-heatmap.
type HeatmapBody struct {
	City       string         `json:"city" doc:"City code"`
	CellLatDeg float64        `json:"cell_lat_deg" doc:"Cell height in degrees of latitude"`
	CellLonDeg float64        `json:"cell_lon_deg" doc:"Cell width in degrees of longitude"`
	Cells      []HeatCellBody `json:"cells" nullable:"false" doc:"Cells with starts or ends, busiest first"`
	Truncated  bool           `json:"truncated" doc:"More cells had rides than max_cells"`
}

type heatmapOutput struct{ Body HeatmapBody }

func (h *handlers) heatmap(ctx context.Context, in *heatmapInput) (*heatmapOutput, error) {
	w, err := in.window(MaxHeatmapWindow)
	if err != nil {
		return nil, h.problemFor("heatmap", err)
	}
	if _, err := h.city(ctx, in.City); err != nil {
		return nil, h.problemFor("heatmap", err)
	}
	st, err := h.store()
	if err != nil {
		return nil, h.problemFor("heatmap", err)
	}
	hm, err := st.Heatmap(ctx, in.City, w, float64(in.CellM), in.MaxCells)
	if err != nil {
		return nil, h.problemFor("heatmap", err)
	}
	out := &heatmapOutput{Body: HeatmapBody{City: in.City, CellLatDeg: hm.CellLat, CellLonDeg: hm.CellLon,
		Cells: make([]HeatCellBody, 0, len(hm.Cells)), Truncated: hm.Truncated}}
	for _, c := range hm.Cells {
		out.Body.Cells = append(out.Body.Cells, HeatCellBody{MinLat: c.MinLat, MinLon: c.MinLon, MaxLat: c.MaxLat, MaxLon: c.MaxLon,
			Starts: int64(c.Starts), Ends: int64(c.Ends)})
	}
	return out, nil
}
