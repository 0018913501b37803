package geo

import "math"

// Angle helpers after Karney (2013) and GeographicLib's Math class: they
// reduce angles in degrees exactly before converting to radians, so that
// e.g. sind(180) is exactly 0 and results keep full double precision near
// the cardinal directions.

const degree = math.Pi / 180

// errorFreeSum returns s = u+v and the rounding error t such that
// s + t == u + v exactly (Knuth's TwoSum).
func errorFreeSum(u, v float64) (s, t float64) {
	s = u + v
	up := s - v
	vpp := s - up
	up -= u
	vpp -= v
	if s != 0 {
		t = 0 - (up + vpp)
	} else {
		t = s
	}
	return s, t
}

// angNormalize reduces x (degrees) to [-180, 180], keeping the sign of x
// for ±180.
func angNormalize(x float64) float64 {
	y := math.Remainder(x, 360)
	if math.Abs(y) == 180 {
		return math.Copysign(180, x)
	}
	return y
}

// angDiff returns y - x reduced to [-180, 180] and the rounding error e of
// that difference, so that d + e is the exact difference.
func angDiff(x, y float64) (d, e float64) {
	d, e = errorFreeSum(math.Remainder(-x, 360), math.Remainder(y, 360))
	d, e = errorFreeSum(math.Remainder(d, 360), e)
	if d == 0 || math.Abs(d) == 180 {
		// Pick the sign from y - x when the difference is exact, else
		// opposite to the error term.
		s := -e
		if e == 0 {
			s = y - x
		}
		d = math.Copysign(d, s)
	}
	return d, e
}

// angRound rounds tiny angles so that values below 1/16 have at most ~52
// significant bits after the point of 1/16; this maps e.g. 1e-300 to 0 and
// keeps the inverse problem away from spurious near-equatorial cases.
func angRound(x float64) float64 {
	const z = 1.0 / 16
	y := math.Abs(x)
	w := z - y
	if w > 0 {
		y = z - w
	}
	return math.Copysign(y, x)
}

// latFix returns NaN for latitudes outside [-90, 90].
func latFix(x float64) float64 {
	if math.Abs(x) > 90 {
		return math.NaN()
	}
	return x
}

// sincosd returns sin and cos of x degrees, reducing x exactly to
// [-45, 45] first.
func sincosd(x float64) (sinx, cosx float64) {
	return sincosdRound(x, 0, false)
}

// sincosde returns sin and cos of x+t degrees where t is a small
// correction (the error term of angDiff); the reduced x+t is rounded with
// angRound after the exact quadrant reduction.
func sincosde(x, t float64) (sinx, cosx float64) {
	return sincosdRound(x, t, true)
}

func sincosdRound(x, t float64, round bool) (sinx, cosx float64) {
	x = math.Mod(x, 360) // exact
	r := math.Remainder(x, 90)
	q := int(math.Round((x-r)/90)) & 3 // x-r is an exact multiple of 90
	if round {
		r = angRound(r + t)
	}
	s, c := math.Sincos(r * degree)
	switch q {
	case 0:
		sinx, cosx = s, c
	case 1:
		sinx, cosx = c, -s
	case 2:
		sinx, cosx = -s, -c
	default:
		sinx, cosx = -c, s
	}
	cosx += 0 // turn -0 into +0
	if sinx == 0 {
		sinx = math.Copysign(sinx, x)
	}
	return sinx, cosx
}

// atan2d returns atan2(y, x) in degrees in [-180, 180], exact for the
// cardinal directions.
func atan2d(y, x float64) float64 {
	q := 0
	if math.Abs(y) > math.Abs(x) {
		x, y = y, x
		q = 2
	}
	if math.Signbit(x) {
		x = -x
		q++
	}
	ang := math.Atan2(y, x) / degree
	switch q {
	case 1:
		ang = math.Copysign(180, y) - ang
	case 2:
		ang = 90 - ang
	case 3:
		ang = -90 + ang
	}
	return ang
}

// norm2 scales (x, y) to unit length.
func norm2(x, y float64) (float64, float64) {
	r := hypot(x, y)
	return x / r, y / r
}

// hypot is math.Hypot with a fast path: the arguments here are sines,
// cosines and their small multiples, for which sqrt(x²+y²) neither
// overflows nor loses accuracy; math.Hypot handles the rest (tiny or
// huge values, Inf, NaN).
func hypot(x, y float64) float64 {
	r2 := x*x + y*y
	if r2 > 0x1p-900 && r2 < 0x1p900 {
		return math.Sqrt(r2)
	}
	return math.Hypot(x, y)
}

// polyval evaluates the polynomial p[0]*x^n + ... + p[n] (Horner); n < 0
// gives 0.
func polyval(n int, p []float64, x float64) float64 {
	if n < 0 {
		return 0
	}
	y := p[0]
	for i := 1; i <= n; i++ {
		y = y*x + p[i]
	}
	return y
}
