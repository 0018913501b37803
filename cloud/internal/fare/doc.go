// Package fare owns the pure arithmetic of a ride's price: rebuilding the
// ridden route from the scooter's GPS fixes and computing the fare
// breakdown from a tariff. It does no I/O and keeps no state; every
// function is safe for concurrent use.
//
// # Route rebuild (Rebuild)
//
//  1. Invalid fixes are dropped: a zero time, a non-finite coordinate or
//     one outside [-90, 90] / [-180, 180]. (Leave cell-tower fixes out
//     before calling: they can be hundreds of metres off and would only be
//     dropped as jumps or, worse, kept.)
//  2. The rest are sorted by time (stable) and fixes repeating an earlier
//     fix's timestamp are dropped (the first one received is kept).
//  3. Impossible jumps are dropped. A pair of fixes is consistent when the
//     geodesic distance between them divided by the time between them is at
//     most RouteOptions.MaxSpeedKmh (default 45 km/h, well above a
//     scooter's 25 km/h plus GPS noise at a 3 s cadence). The kept fixes
//     are the longest chain of pairwise-consecutive consistent fixes
//     (dynamic programming: each fix may follow any of the 16 fixes before
//     it, or the end of the best chain found so far), not a greedy walk
//     from the first fix. So a single wild fix is skipped, a wrong FIRST fix
//     does not poison the rest of the ride (the chain simply starts at the
//     second), and a burst of wild fixes longer than the look-back is
//     skipped as long as the true track has more fixes than the burst. When
//     two chains are equally long the earlier one wins. In a clean track
//     this costs one geodesic per fix.
//  4. The kept fixes are smoothed with a centred moving average over
//     RouteOptions.SmoothWindow fixes (default 3; 1 disables smoothing; an
//     even window is widened to the next odd size). Near the ends the window
//     shrinks symmetrically, so the first and last fixes are kept exactly
//     (they decide the start and end zones). Longitudes are averaged as
//     offsets from the centre fix, so a track crossing the antimeridian
//     does not average to the other side of the Earth. Each point keeps its
//     fix's time.
//  5. LengthM is the geodesic length of the smoothed polyline on WGS84
//     (shared/geo, Karney's algorithm). Dropped counts every input fix not
//     in Points (steps 1–3).
//
// # Fare (Compute)
//
// All money is int64 minor units of Tariff.Currency; no floating point
// touches an amount. Rounding, always documented on the line it affects:
//
//   - Riding time = End − Start − pauses (pauses clipped to the ride and
//     merged where they overlap; a pause with a zero To lasts until End).
//     RideMinutes = riding time rounded UP to the whole minute ("per started
//     minute"): 10:00 is 10 minutes, 10:01 is 11, 0 s is 0.
//   - PauseMinutes = total pause time rounded up to the whole minute, charged
//     at PausePerMinute.
//   - Distance: DistanceM = LengthM rounded to the nearest metre; charged per
//     STARTED 100 m at PerKm/10 each, i.e. amount = PerKm × ⌈DistanceM/100⌉ / 10
//     rounded half up to the minor unit (2,345 m at 33/km: 24 × 33 / 10 =
//     79.2 → 79). No line when PerKm is 0.
//   - Zone surcharges, one line per tariff surcharge that applies:
//     Fixed once when the zone is among StartZones or EndZones, plus
//     PerMinute × the started minutes inside the zone (ZoneMinutes, rounded
//     to the second, then up to the minute, capped at RideMinutes).
//   - OutOfZoneFine when OutOfZoneEnd.
//
// Lines (codes unlock, time, distance, pause, surcharge:<zone>, fine) always
// sum to Total; unlock and time are always present, the others only when
// they apply. Arithmetic is overflow-checked (ErrOverflow) and inputs are
// validated (ErrInvalidTariff, ErrInvalidRide): bad input never panics.
//
// ZoneMinutes and ZonesAt compute the zone inputs of a Ride from a rebuilt
// Route and a shared/zone Set.
package fare
