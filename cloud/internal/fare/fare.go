package fare

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Surcharge is a zone's extra price: Fixed once when the ride starts or
// ends in the zone, PerMinute for every started minute ridden inside it.
type Surcharge struct {
	ZoneID    string
	PerMinute int64
	Fixed     int64
}

// Tariff is the price list a ride is charged with, in minor units of
// Currency (ISO 4217 code, e.g. "EUR"). All prices are ≥ 0.
type Tariff struct {
	Currency       string
	UnlockFee      int64
	PerMinute      int64
	PerKm          int64 // 0: distance is not charged
	PausePerMinute int64
	OutOfZoneFine  int64
	Surcharges     []Surcharge
}

// Interval is a time span [From, To). A zero To in Ride.Pauses means the
// pause was still open when the ride ended.
type Interval struct {
	From, To time.Time
}

// Ride is what the fare of one ride depends on.
type Ride struct {
	Start, End time.Time
	Pauses     []Interval
	Route      Route
	// ZoneMinutes: minutes ridden inside each surcharged zone, by zone id
	// (ZoneMinutes computes it from the route and a zone set).
	ZoneMinutes map[string]float64
	// StartZones, EndZones: ids of the zones containing the start and end
	// positions (ZonesAt).
	StartZones, EndZones []string
	// OutOfZoneEnd: the ride ended where ride_end_allowed is false.
	OutOfZoneEnd bool
}

// Line codes of a Breakdown; a surcharge line's code is LineSurcharge +
// the zone id.
const (
	LineUnlock    = "unlock"
	LineTime      = "time"
	LineDistance  = "distance"
	LinePause     = "pause"
	LineSurcharge = "surcharge:"
	LineFine      = "fine"
)

// Line is one line of a receipt.
type Line struct {
	Code, Description string
	Amount            int64
}

// Breakdown is a computed fare: Lines sum to Total.
type Breakdown struct {
	Currency     string
	RideMinutes  int
	PauseMinutes int
	DistanceM    int64
	Lines        []Line
	Total        int64
}

// Compute prices ride r with tariff t (rounding rules in the package
// documentation). Errors wrap ErrInvalidTariff, ErrInvalidRide or
// ErrOverflow.
func Compute(t Tariff, r Ride) (Breakdown, error) {
	if err := checkTariff(t); err != nil {
		return Breakdown{}, err
	}
	if r.Start.IsZero() || r.End.IsZero() {
		return Breakdown{}, fmt.Errorf("%w: start or end missing", ErrInvalidRide)
	}
	if r.End.Before(r.Start) {
		return Breakdown{}, fmt.Errorf("%w: end %s before start %s", ErrInvalidRide, r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339))
	}
	if r.End.Sub(r.Start) > maxRide {
		return Breakdown{}, fmt.Errorf("%w: ride longer than %s", ErrInvalidRide, maxRide)
	}
	paused, err := pausedTime(r)
	if err != nil {
		return Breakdown{}, err
	}
	riding := r.End.Sub(r.Start) - paused
	b := Breakdown{
		Currency:     t.Currency,
		RideMinutes:  startedMinutes(riding),
		PauseMinutes: startedMinutes(paused),
	}
	if !(r.Route.LengthM >= 0) || math.IsInf(r.Route.LengthM, 0) || r.Route.LengthM > maxDistanceM {
		return Breakdown{}, fmt.Errorf("%w: route length %v m", ErrInvalidRide, r.Route.LengthM)
	}
	b.DistanceM = int64(math.Round(r.Route.LengthM))

	var sum checked
	add := func(code, desc string, amount int64) {
		b.Lines = append(b.Lines, Line{Code: code, Description: desc, Amount: amount})
		sum.add(amount)
	}
	add(LineUnlock, "Unlock", t.UnlockFee)
	add(LineTime, fmt.Sprintf("Riding time: %d min × %d", b.RideMinutes, t.PerMinute),
		sum.mul(int64(b.RideMinutes), t.PerMinute))
	if t.PerKm > 0 {
		hm := (b.DistanceM + 99) / 100
		// PerKm/10 per started 100 m, rounded half up to the minor unit.
		amount := sum.mul(hm, t.PerKm)
		amount = sum.addv(amount, 5) / 10
		add(LineDistance, fmt.Sprintf("Distance: %d m (%d started 100 m) at %d per km", b.DistanceM, hm, t.PerKm), amount)
	}
	if b.PauseMinutes > 0 {
		add(LinePause, fmt.Sprintf("Pause: %d min × %d", b.PauseMinutes, t.PausePerMinute),
			sum.mul(int64(b.PauseMinutes), t.PausePerMinute))
	}
	for _, s := range t.Surcharges {
		fixed := slices.Contains(r.StartZones, s.ZoneID) || slices.Contains(r.EndZones, s.ZoneID)
		mins, err := zoneMinutes(r.ZoneMinutes[s.ZoneID], b.RideMinutes)
		if err != nil {
			return Breakdown{}, fmt.Errorf("%w: zone %q: %v", ErrInvalidRide, s.ZoneID, err)
		}
		if !fixed && mins == 0 {
			continue
		}
		var amount int64
		if fixed {
			amount = s.Fixed
		}
		amount = sum.addv(amount, sum.mul(int64(mins), s.PerMinute))
		add(LineSurcharge+s.ZoneID, surchargeText(s, fixed, mins), amount)
	}
	if r.OutOfZoneEnd {
		add(LineFine, "Ride ended outside an area where ending is allowed", t.OutOfZoneFine)
	}
	if sum.overflow {
		return Breakdown{}, fmt.Errorf("%w: fare exceeds int64 minor units", ErrOverflow)
	}
	b.Total = sum.v
	return b, nil
}

// maxRide bounds a ride's duration: longer is corrupt input.
const maxRide = 366 * 24 * time.Hour

// maxDistanceM bounds a route's length (a quarter of a million km: more is
// corrupt input, and it keeps the metre count exact in float64).
const maxDistanceM = 2.5e8

func surchargeText(s Surcharge, fixed bool, mins int) string {
	switch {
	case fixed && mins > 0:
		return fmt.Sprintf("Zone %s: %d + %d min × %d", s.ZoneID, s.Fixed, mins, s.PerMinute)
	case fixed:
		return fmt.Sprintf("Zone %s: started or ended in the zone", s.ZoneID)
	default:
		return fmt.Sprintf("Zone %s: %d min × %d", s.ZoneID, mins, s.PerMinute)
	}
}

func checkTariff(t Tariff) error {
	if len(t.Currency) != 3 || !isUpper(t.Currency) {
		return fmt.Errorf("%w: currency %q is not an ISO 4217 code", ErrInvalidTariff, t.Currency)
	}
	prices := []struct {
		name string
		v    int64
	}{
		{"unlock fee", t.UnlockFee}, {"per minute", t.PerMinute}, {"per km", t.PerKm},
		{"pause per minute", t.PausePerMinute}, {"out-of-zone fine", t.OutOfZoneFine},
	}
	for _, p := range prices {
		if p.v < 0 {
			return fmt.Errorf("%w: %s %d is negative", ErrInvalidTariff, p.name, p.v)
		}
	}
	seen := make(map[string]bool, len(t.Surcharges))
	for i, s := range t.Surcharges {
		switch {
		case s.ZoneID == "":
			return fmt.Errorf("%w: surcharge %d has no zone id", ErrInvalidTariff, i)
		case seen[s.ZoneID]:
			return fmt.Errorf("%w: zone %q has two surcharges", ErrInvalidTariff, s.ZoneID)
		case s.PerMinute < 0 || s.Fixed < 0:
			return fmt.Errorf("%w: zone %q surcharge is negative", ErrInvalidTariff, s.ZoneID)
		}
		seen[s.ZoneID] = true
	}
	return nil
}

func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// pausedTime is the total of r's pauses clipped to [Start, End], overlaps
// counted once.
func pausedTime(r Ride) (time.Duration, error) {
	iv := make([]Interval, 0, len(r.Pauses))
	for i, p := range r.Pauses {
		to := p.To
		if to.IsZero() { // still open at the end (or opened after it: empty)
			to = maxTime(r.End, p.From)
		}
		if p.From.IsZero() || to.Before(p.From) {
			return 0, fmt.Errorf("%w: pause %d: bad interval", ErrInvalidRide, i)
		}
		from := maxTime(p.From, r.Start)
		to = minTime(to, r.End)
		if to.After(from) {
			iv = append(iv, Interval{from, to})
		}
	}
	var total time.Duration
	for _, p := range mergeIntervals(iv) {
		total += p.To.Sub(p.From)
	}
	return total, nil
}

// mergeIntervals sorts non-empty intervals and merges overlapping ones, in
// place.
func mergeIntervals(iv []Interval) []Interval {
	if len(iv) == 0 {
		return iv
	}
	slices.SortFunc(iv, func(a, b Interval) int { return a.From.Compare(b.From) })
	out := iv[:1]
	for _, p := range iv[1:] {
		last := &out[len(out)-1]
		if !p.From.After(last.To) {
			last.To = maxTime(last.To, p.To)
			continue
		}
		out = append(out, p)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// startedMinutes rounds d up to whole minutes (d ≥ 0).
func startedMinutes(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

// zoneMinutes turns fractional minutes into started minutes: rounded to
// the second first (so 2.0000001 is 2, not 3), then up, capped at rideMin.
func zoneMinutes(m float64, rideMin int) (int, error) {
	if math.IsNaN(m) || m < 0 || math.IsInf(m, 0) {
		return 0, fmt.Errorf("minutes %v", m)
	}
	secs := math.Round(m * 60)
	if secs >= float64(rideMin)*60 {
		return rideMin, nil
	}
	return int((int64(secs) + 59) / 60), nil
}

// checked accumulates an int64 sum and remembers any overflow of the
// operations done through it.
type checked struct {
	v        int64
	overflow bool
}

func (c *checked) add(x int64) { c.v = c.addv(c.v, x) }

func (c *checked) addv(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		c.overflow = true
	}
	return s
}

// mul multiplies non-negative a and b.
func (c *checked) mul(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		c.overflow = true
		return 0
	}
	return int64(lo)
}
