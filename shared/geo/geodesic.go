package geo

import "math"

// WGS84 ellipsoid parameters.
const (
	// WGS84A is the equatorial radius of the WGS84 ellipsoid in metres.
	WGS84A = 6378137.0
	// WGS84F is the flattening of the WGS84 ellipsoid.
	WGS84F = 1 / 298.257223563
)

// Tolerances and iteration limits as in GeographicLib.
const (
	tol0   = 0x1p-52 // machine epsilon
	tol1   = 200 * tol0
	tolb   = tol0
	maxit1 = 20
	maxit2 = maxit1 + 53 + 10
)

const (
	tol2    = 0x1p-26 // sqrt(tol0)
	xthresh = 1000 * tol2
	tiny    = 0x1p-511 // sqrt of the smallest normal float64
)

// ellipsoid holds the derived constants of an ellipsoid of revolution.
// It is immutable after newEllipsoid.
type ellipsoid struct {
	a, f, f1, e2, ep2, n, b float64
	etol2                   float64
	a3x                     [nA3x]float64
	c3x                     [nC3x]float64
}

// wgs84 is the only ellipsoid fleetedge uses; it is computed once and
// never modified.
var wgs84 = newEllipsoid(WGS84A, WGS84F)

func newEllipsoid(a, f float64) *ellipsoid {
	e := &ellipsoid{a: a, f: f}
	e.f1 = 1 - f
	e.e2 = f * (2 - f)
	e.ep2 = e.e2 / (e.f1 * e.f1)
	e.n = f / (2 - f)
	e.b = a * e.f1
	// Threshold below which InverseStart treats a line as "really short"
	// and returns the spherical solution directly.
	e.etol2 = 0.1 * tol2 / math.Sqrt(math.Max(0.001, math.Abs(f))*math.Min(1, 1-f/2)/2)
	e.a3x = a3Coeffs(e.n)
	e.c3x = c3Coeffs(e.n)
	return e
}

// a3f evaluates A3 (eq. 24) at eps.
func (e *ellipsoid) a3f(eps float64) float64 {
	return polyval(nA3x-1, e.a3x[:], eps)
}

// c3f fills c[1..nC3-1] with the coefficients C3[l] (eq. 25) at eps.
func (e *ellipsoid) c3f(eps float64, c *[nC3]float64) {
	mult := 1.0
	o := 0
	for l := 1; l < nC3; l++ {
		m := nC3 - l - 1 // order of the polynomial in eps
		mult *= eps
		c[l] = mult * polyval(m, e.c3x[o:], eps)
		o += m + 1
	}
}

// lengthsOut selects the outputs of lengths.
type lengthsOut uint8

const (
	outDistance lengthsOut = 1 << iota
	outReduced
)

// lengths returns s12b = distance/b and m12b = reduced length/b for the
// geodesic segment sig1..sig2 on the auxiliary sphere (Karney 2013,
// eqs. 38-41).
func (e *ellipsoid) lengths(eps, sig12, ssig1, csig1, dn1, ssig2, csig2, dn2 float64, out lengthsOut) (s12b, m12b float64) {
	var ca [nC1 + 1]float64
	var cb [nC2 + 1]float64
	a1 := a1m1f(eps)
	c1f(eps, &ca)
	var a2, m0x float64
	if out&outReduced != 0 {
		a2 = a2m1f(eps)
		c2f(eps, &cb)
		m0x = a1 - a2
		a2 = 1 + a2
	}
	a1 = 1 + a1
	var j12 float64
	if out&outDistance != 0 {
		b1 := sinSeries(ssig2, csig2, ca[:], nC1) - sinSeries(ssig1, csig1, ca[:], nC1)
		s12b = a1 * (sig12 + b1)
		if out&outReduced != 0 {
			b2 := sinSeries(ssig2, csig2, cb[:], nC2) - sinSeries(ssig1, csig1, cb[:], nC2)
			j12 = m0x*sig12 + (a1*b1 - a2*b2)
		}
	} else if out&outReduced != 0 {
		for l := 1; l <= nC2; l++ {
			cb[l] = a1*ca[l] - a2*cb[l]
		}
		j12 = m0x*sig12 + (sinSeries(ssig2, csig2, cb[:], nC2) - sinSeries(ssig1, csig1, cb[:], nC2))
	}
	if out&outReduced != 0 {
		// Parentheses keep the cancellation accurate for coincident points.
		m12b = dn2*(csig1*ssig2) - dn1*(ssig1*csig2) - csig1*csig2*j12
	}
	return s12b, m12b
}

// astroid returns the positive root k of
// k^4 + 2k^3 - (x^2 + y^2 - 1)k^2 - 2y^2 k - y^2 = 0 (Karney 2013, eq. 55),
// which gives the starting guess for nearly antipodal points.
func astroid(x, y float64) float64 {
	p := x * x
	q := y * y
	r := (p + q - 1) / 6
	if q == 0 && r <= 0 {
		// y = 0 with |x| <= 1: for small y the root is |y|/sqrt(1-x^2).
		return 0
	}
	// Multiply the equations for s and t by r^3 and r to avoid dividing by
	// r = 0.
	s := p * q / 4 // r^3 * s
	r2 := r * r
	r3 := r * r2
	// Discriminant of the quadratic for T3; zero on the evolute
	// p^(1/3) + q^(1/3) = 1.
	disc := s * (s + 2*r3)
	u := r
	if disc >= 0 {
		t3 := s + r3
		// Choose the sign of the root that maximises |T3| to avoid
		// cancellation; u does not depend on the choice.
		if t3 < 0 {
			t3 -= math.Sqrt(disc)
		} else {
			t3 += math.Sqrt(disc)
		}
		t := math.Cbrt(t3) // t = r * t
		if t != 0 {
			u += t + r2/t
		}
	} else {
		// T is complex but u is real; choose the cube root that avoids
		// cancellation (disc < 0 implies r < 0).
		ang := math.Atan2(math.Sqrt(-disc), -(s + r3))
		u += 2 * r * math.Cos(ang/3)
	}
	v := math.Sqrt(u*u + q) // > 0
	var uv float64          // u + v > 0, computed without cancellation
	if u < 0 {
		uv = q / (v - u)
	} else {
		uv = u + v
	}
	w := (uv - q) / (2 * v)
	return uv / (math.Sqrt(uv+w*w) + w)
}

// inverseStart returns a starting guess (salp1, calp1) for Newton's
// method. For really short lines it solves the problem on a sphere of
// suitable radius and returns sig12 >= 0 together with salp2, calp2 and
// dnm; otherwise sig12 = -1.
func (e *ellipsoid) inverseStart(sbet1, cbet1, sbet2, cbet2, lam12, slam12, clam12 float64) (sig12, salp1, calp1, salp2, calp2, dnm float64) {
	sig12 = -1
	// bet12 = bet2 - bet1 in [0, pi); bet12a = bet2 + bet1 in (-pi, 0].
	sbet12 := sbet2*cbet1 - cbet2*sbet1
	cbet12 := cbet2*cbet1 + sbet2*sbet1
	sbet12a := sbet2*cbet1 + cbet2*sbet1
	shortline := cbet12 >= 0 && sbet12 < 0.5 && cbet2*lam12 < 0.5
	var somg12, comg12 float64
	if shortline {
		sbetm2 := (sbet1 + sbet2) * (sbet1 + sbet2)
		// sin((bet1+bet2)/2)^2
		sbetm2 /= sbetm2 + (cbet1+cbet2)*(cbet1+cbet2)
		dnm = math.Sqrt(1 + e.ep2*sbetm2)
		omg12 := lam12 / (e.f1 * dnm)
		somg12, comg12 = math.Sincos(omg12)
	} else {
		somg12, comg12 = slam12, clam12
	}

	salp1 = cbet2 * somg12
	if comg12 >= 0 {
		calp1 = sbet12 + cbet2*sbet1*somg12*somg12/(1+comg12)
	} else {
		calp1 = sbet12a - cbet2*sbet1*somg12*somg12/(1-comg12)
	}
	ssig12 := hypot(salp1, calp1)
	csig12 := sbet1*sbet2 + cbet1*cbet2*comg12

	switch {
	case shortline && ssig12 < e.etol2:
		// Really short line: the spherical solution is accurate enough.
		salp2 = cbet1 * somg12
		t := 1 - comg12
		if comg12 >= 0 {
			t = somg12 * somg12 / (1 + comg12)
		}
		calp2 = sbet12 - cbet1*sbet2*t
		salp2, calp2 = norm2(salp2, calp2)
		sig12 = math.Atan2(ssig12, csig12)
	case math.Abs(e.n) > 0.1 || csig12 >= 0 || ssig12 >= 6*math.Abs(e.n)*math.Pi*cbet1*cbet1:
		// The zeroth-order spherical guess is fine.
	default:
		// Nearly antipodal: scale to coordinates (x, y) in which the
		// antipode is at the origin and the singular point at (-1, 0)
		// (Karney 2013, sec. 5), then solve the astroid problem.
		lam12x := math.Atan2(-slam12, -clam12) // lam12 - pi
		// This branch only handles oblate ellipsoids (f > 0), as WGS84.
		k2 := sbet1 * sbet1 * e.ep2
		eps := k2 / (2*(1+math.Sqrt(1+k2)) + k2)
		lamscale := e.f * cbet1 * e.a3f(eps) * math.Pi
		betscale := lamscale * cbet1
		x := lam12x / lamscale
		y := sbet12a / betscale
		if y > -tol1 && x > -1-xthresh {
			// Strip near the cut.
			salp1 = math.Min(1, -x)
			calp1 = -math.Sqrt(1 - salp1*salp1)
		} else {
			k := astroid(x, y)
			// Estimating omg12 from the astroid and then alp1 with the
			// spherical formula converges faster than using alp1 directly.
			omg12a := lamscale * (-x * k / (1 + k))
			somg12, comg12 = math.Sincos(omg12a)
			comg12 = -comg12
			salp1 = cbet2 * somg12
			calp1 = sbet12a - cbet2*sbet1*somg12*somg12/(1-comg12)
		}
	}
	// Sanity check; the inverted test lets NaN through.
	if !(salp1 <= 0) {
		salp1, calp1 = norm2(salp1, calp1)
	} else {
		salp1, calp1 = 1, 0
	}
	return sig12, salp1, calp1, salp2, calp2, dnm
}

// lambda12State carries the quantities lambda12 computes for the final
// distance evaluation.
type lambda12State struct {
	salp2, calp2, sig12        float64
	ssig1, csig1, ssig2, csig2 float64
	eps                        float64
}

// lambda12 returns lam12(alp1) - lam120, the longitude mismatch of the
// geodesic leaving point 1 with azimuth alp1 when it reaches latitude
// bet2, and, if diffp, its derivative d lam12 / d alp1 (Karney 2013,
// eqs. 46-48).
func (e *ellipsoid) lambda12(sbet1, cbet1, dn1, sbet2, cbet2, dn2, salp1, calp1, slam120, clam120 float64, diffp bool) (v, dlam12 float64, st lambda12State) {
	if sbet1 == 0 && calp1 == 0 {
		// Break the degeneracy of the equatorial line, handled elsewhere.
		calp1 = -tiny
	}
	// sin(alp1) cos(bet1) = sin(alp0)
	salp0 := salp1 * cbet1
	calp0 := hypot(calp1, salp1*sbet1) // > 0

	// tan(bet1) = tan(sig1) cos(alp1); tan(omg1) = sin(alp0) tan(sig1).
	ssig1 := sbet1
	somg1 := salp0 * sbet1
	csig1 := calp1 * cbet1
	comg1 := csig1
	ssig1, csig1 = norm2(ssig1, csig1)

	// Enforce the symmetries when |bet2| = -bet1, which otherwise gives
	// singularities in the Newton iteration.
	salp2 := salp1
	if cbet2 != cbet1 {
		salp2 = salp0 / cbet2
	}
	var calp2 float64
	if cbet2 != cbet1 || math.Abs(sbet2) != -sbet1 {
		var t float64
		if cbet1 < -sbet1 {
			t = (cbet2 - cbet1) * (cbet1 + cbet2)
		} else {
			t = (sbet1 - sbet2) * (sbet1 + sbet2)
		}
		calp2 = math.Sqrt((calp1*cbet1)*(calp1*cbet1)+t) / cbet2
	} else {
		calp2 = math.Abs(calp1)
	}
	ssig2 := sbet2
	somg2 := salp0 * sbet2
	csig2 := calp2 * cbet2
	comg2 := csig2
	ssig2, csig2 = norm2(ssig2, csig2)

	// sig12 = sig2 - sig1 in [0, pi]
	sig12 := math.Atan2(math.Max(0, csig1*ssig2-ssig1*csig2)+0, csig1*csig2+ssig1*ssig2)
	// omg12 = omg2 - omg1 in [0, pi]
	somg12 := math.Max(0, comg1*somg2-somg1*comg2) + 0
	comg12 := comg1*comg2 + somg1*somg2
	// eta = omg12 - lam120
	eta := math.Atan2(somg12*clam120-comg12*slam120, comg12*clam120+somg12*slam120)

	k2 := calp0 * calp0 * e.ep2
	eps := k2 / (2*(1+math.Sqrt(1+k2)) + k2)
	var c3 [nC3]float64
	e.c3f(eps, &c3)
	b312 := sinSeries(ssig2, csig2, c3[:], nC3-1) - sinSeries(ssig1, csig1, c3[:], nC3-1)
	domg12 := -e.f * e.a3f(eps) * salp0 * (sig12 + b312)
	v = eta + domg12

	if diffp {
		if calp2 == 0 {
			dlam12 = -2 * e.f1 * dn1 / sbet1
		} else {
			_, m12b := e.lengths(eps, sig12, ssig1, csig1, dn1, ssig2, csig2, dn2, outReduced)
			dlam12 = m12b * e.f1 / (calp2 * cbet2)
		}
	}
	st = lambda12State{salp2: salp2, calp2: calp2, sig12: sig12,
		ssig1: ssig1, csig1: csig1, ssig2: ssig2, csig2: csig2, eps: eps}
	return v, dlam12, st
}

// inverse solves the inverse geodesic problem and returns the distance
// and the sines and cosines of the azimuths.
func (e *ellipsoid) inverse(lat1, lon1, lat2, lon2 float64) (s12, salp1, calp1, salp2, calp2 float64) {
	lon12, lon12s := angDiff(lon1, lon2)
	// Make the longitude difference positive.
	lonsign := 1.0
	if math.Signbit(lon12) {
		lonsign = -1
	}
	lon12 *= lonsign
	lon12s *= lonsign
	lam12 := lon12 * degree
	slam12, clam12 := sincosde(lon12, lon12s)
	// The supplementary longitude difference.
	lon12s = (180 - lon12) - lon12s

	// Points very close to the equator are treated as on it.
	lat1 = angRound(latFix(lat1))
	lat2 = angRound(latFix(lat2))
	// Swap so that point 1 has the larger |lat|; a NaN lat2 becomes lat1.
	swapp := 1.0
	if math.Abs(lat1) < math.Abs(lat2) || math.IsNaN(lat2) {
		swapp = -1
		lonsign = -lonsign
		lat1, lat2 = lat2, lat1
	}
	// Make lat1 <= -0.
	latsign := -1.0
	if math.Signbit(lat1) {
		latsign = 1
	}
	lat1 *= latsign
	lat2 *= latsign
	// Now 0 <= lon12 <= 180, -90 <= lat1 <= -0, lat1 <= lat2 <= -lat1;
	// lonsign, swapp and latsign record how to undo this.

	sbet1, cbet1 := sincosd(lat1)
	sbet1 *= e.f1
	// cbet = +tiny at the poles, so that sig12 <= 2*tiny for two points at
	// the same pole.
	sbet1, cbet1 = norm2(sbet1, cbet1)
	cbet1 = math.Max(tiny, cbet1)

	sbet2, cbet2 := sincosd(lat2)
	sbet2 *= e.f1
	sbet2, cbet2 = norm2(sbet2, cbet2)
	cbet2 = math.Max(tiny, cbet2)

	// If cbet1 < -sbet1, cbet2 - cbet1 is a sensitive measure of
	// |bet1| - |bet2|, else |sbet2| + sbet1 is; force bet2 = ±bet1 exactly
	// when these vanish (lambda12 relies on it).
	if cbet1 < -sbet1 {
		if cbet2 == cbet1 {
			sbet2 = math.Copysign(sbet1, sbet2)
		}
	} else if math.Abs(sbet2) == -sbet1 {
		cbet2 = cbet1
	}

	dn1 := math.Sqrt(1 + e.ep2*sbet1*sbet1)
	dn2 := math.Sqrt(1 + e.ep2*sbet2*sbet2)

	var s12x float64
	meridian := lat1 == -90 || slam12 == 0
	if meridian {
		// Both ends on one full meridian: the geodesic may run along it.
		calp1, salp1 = clam12, slam12 // head to the target longitude
		calp2, salp2 = 1, 0           // heading north at the target
		// tan(bet) = tan(sig) cos(alp)
		ssig1, csig1 := sbet1, calp1*cbet1
		ssig2, csig2 := sbet2, calp2*cbet2
		sig12 := math.Atan2(math.Max(0, csig1*ssig2-ssig1*csig2)+0, csig1*csig2+ssig1*ssig2)
		s12b, m12b := e.lengths(e.n, sig12, ssig1, csig1, dn1, ssig2, csig2, dn2, outDistance|outReduced)
		// A meridional path is the shortest one unless m12 < 0 (sig12 >
		// pi/2 beyond the conjugate point); the sig12 test keeps
		// coincident points, which may give m12 slightly < 0.
		if sig12 < tol2 || m12b >= 0 {
			if sig12 < 3*tiny || (sig12 < tol0 && (s12b < 0 || m12b < 0)) {
				s12b = 0
			}
			s12x = s12b * e.b
		} else {
			meridian = false
		}
	}

	switch {
	case meridian:
	case sbet1 == 0 && (e.f <= 0 || lon12s >= e.f*180):
		// Both points on the equator and the geodesic follows it.
		calp1, calp2 = 0, 0
		salp1, salp2 = 1, 1
		s12x = e.a * lam12
	default:
		// The points lie in a hemisphere bounded by a meridian and the
		// geodesic is neither meridional nor equatorial.
		var sig12, dnm float64
		sig12, salp1, calp1, salp2, calp2, dnm = e.inverseStart(sbet1, cbet1, sbet2, cbet2, lam12, slam12, clam12)
		if sig12 >= 0 {
			// Really short line, solved on a sphere.
			s12x = sig12 * e.b * dnm
			break
		}
		// Newton's method on f(alp1) = lambda12(alp1) - lam12 = 0. f has
		// one root in (0, pi) with positive slope there, so a bracket
		// (alp1a, alp1b) is kept and bisection is used whenever a Newton
		// step leaves it or the slope is not positive.
		var st lambda12State
		salp1a, calp1a := tiny, 1.0
		salp1b, calp1b := tiny, -1.0
		tripn, tripb := false, false
		for numit := 0; ; numit++ {
			var v, dv float64
			v, dv, st = e.lambda12(sbet1, cbet1, dn1, sbet2, cbet2, dn2, salp1, calp1, slam12, clam12, numit < maxit1)
			lim := 1.0
			if tripn {
				lim = 8
			}
			// Inverted test so that NaN ends the loop.
			if tripb || !(math.Abs(v) >= lim*tol0) || numit == maxit2 {
				break
			}
			// Shrink the bracket.
			if v > 0 && (numit > maxit1 || calp1/salp1 > calp1b/salp1b) {
				salp1b, calp1b = salp1, calp1
			} else if v < 0 && (numit > maxit1 || calp1/salp1 < calp1a/salp1a) {
				salp1a, calp1a = salp1, calp1
			}
			if numit < maxit1 && dv > 0 {
				dalp1 := -v / dv
				if math.Abs(dalp1) < math.Pi {
					sdalp1, cdalp1 := math.Sincos(dalp1)
					nsalp1 := salp1*cdalp1 + calp1*sdalp1
					if nsalp1 > 0 {
						calp1 = calp1*cdalp1 - salp1*sdalp1
						salp1 = nsalp1
						salp1, calp1 = norm2(salp1, calp1)
						// Convergence may be only linear where the slope
						// tends to 0: then test against epsilon.
						tripn = math.Abs(v) <= 16*tol0
						continue
					}
				}
			}
			// Bisect.
			salp1 = (salp1a + salp1b) / 2
			calp1 = (calp1a + calp1b) / 2
			salp1, calp1 = norm2(salp1, calp1)
			tripn = false
			tripb = math.Abs(salp1a-salp1)+(calp1a-calp1) < tolb ||
				math.Abs(salp1-salp1b)+(calp1-calp1b) < tolb
		}
		salp2, calp2 = st.salp2, st.calp2
		s12b, _ := e.lengths(st.eps, st.sig12, st.ssig1, st.csig1, dn1, st.ssig2, st.csig2, dn2, outDistance)
		s12x = s12b * e.b
	}

	s12 = 0 + s12x // -0 becomes 0

	// Undo the canonical transformation.
	if swapp < 0 {
		salp1, salp2 = salp2, salp1
		calp1, calp2 = calp2, calp1
	}
	salp1 *= swapp * lonsign
	calp1 *= swapp * latsign
	salp2 *= swapp * lonsign
	calp2 *= swapp * latsign
	return s12, salp1, calp1, salp2, calp2
}

// direct solves the direct geodesic problem (Karney 2013, sec. 4).
func (e *ellipsoid) direct(lat1, lon1, azi1, s12 float64) (lat2, lon2, azi2 float64) {
	azi1 = angNormalize(azi1)
	salp1, calp1 := sincosd(angRound(azi1))
	lat1 = latFix(lat1)

	sbet1, cbet1 := sincosd(angRound(lat1))
	sbet1 *= e.f1
	sbet1, cbet1 = norm2(sbet1, cbet1)
	cbet1 = math.Max(tiny, cbet1) // +tiny at the poles

	// sin(alp1) cos(bet1) = sin(alp0); alp0 in [0, pi/2 - |bet1|].
	salp0 := salp1 * cbet1
	calp0 := hypot(calp1, salp1*sbet1)
	// tan(bet1) = tan(sig1) cos(alp1), sig1 = 0 at the northward equator
	// crossing; tan(omg1) = sin(alp0) tan(sig1).
	ssig1 := sbet1
	somg1 := salp0 * sbet1
	csig1 := 1.0
	if sbet1 != 0 || calp1 != 0 {
		csig1 = cbet1 * calp1
	}
	comg1 := csig1
	ssig1, csig1 = norm2(ssig1, csig1) // sig1 in (-pi, pi]

	k2 := calp0 * calp0 * e.ep2
	eps := k2 / (2*(1+math.Sqrt(1+k2)) + k2)

	a1m1 := a1m1f(eps)
	var c1a [nC1 + 1]float64
	c1f(eps, &c1a)
	b11 := sinSeries(ssig1, csig1, c1a[:], nC1)
	s, c := math.Sincos(b11)
	// tau1 = sig1 + B11
	stau1 := ssig1*c + csig1*s
	ctau1 := csig1*c - ssig1*s

	var c1pa [nC1p + 1]float64
	c1pf(eps, &c1pa)

	var c3a [nC3]float64
	e.c3f(eps, &c3a)
	a3c := -e.f * salp0 * e.a3f(eps)
	b31 := sinSeries(ssig1, csig1, c3a[:], nC3-1)

	// Distance to arc length via the reverted series (eq. 20); accurate
	// for |f| <= 1/100 without a Newton correction.
	tau12 := s12 / (e.b * (1 + a1m1))
	s, c = math.Sincos(tau12)
	b12 := -sinSeries(stau1*c+ctau1*s, ctau1*c-stau1*s, c1pa[:], nC1p)
	sig12 := tau12 - (b12 - b11)
	ssig12, csig12 := math.Sincos(sig12)

	// sig2 = sig1 + sig12
	ssig2 := ssig1*csig12 + csig1*ssig12
	csig2 := csig1*csig12 - ssig1*ssig12
	// sin(bet2) = cos(alp0) sin(sig2)
	sbet2 := calp0 * ssig2
	cbet2 := hypot(salp0, calp0*csig2)
	if cbet2 == 0 {
		// salp0 = 0 and csig2 = 0: break the degeneracy.
		cbet2, csig2 = tiny, tiny
	}
	// tan(alp0) = cos(sig2) tan(alp2)
	salp2, calp2 := salp0, calp0*csig2

	// tan(omg2) = sin(alp0) tan(sig2); omg12 = omg2 - omg1.
	somg2, comg2 := salp0*ssig2, csig2
	omg12 := math.Atan2(somg2*comg1-comg2*somg1, comg2*comg1+somg2*somg1)
	lam12 := omg12 + a3c*(sig12+(sinSeries(ssig2, csig2, c3a[:], nC3-1)-b31))
	lon12 := lam12 / degree
	lon2 = angNormalize(angNormalize(lon1) + angNormalize(lon12))
	lat2 = atan2d(sbet2, e.f1*cbet2)
	azi2 = atan2d(salp2, calp2)
	return lat2, lon2, azi2
}

// Inverse solves the inverse geodesic problem on the WGS84 ellipsoid: the
// shortest path from (lat1, lon1) to (lat2, lon2), all in degrees. It
// returns the length s12 in metres and the forward azimuths azi1 at point
// 1 and azi2 at point 2 in degrees clockwise from north, in [-180, 180].
// Longitudes may be any finite value (they are reduced exactly).
//
// Where the azimuths are not unique they follow GeographicLib's
// conventions: coincident points give s12 = 0 and a meridional azimuth (0
// or 180); at a pole the azimuth is that of the meridian of the given
// longitude; exactly antipodal points pick the path over the pole
// (meridional) or along the equator, whichever is shorter.
//
// Latitudes outside [-90, 90] and NaN or infinite inputs give NaN
// results; use InverseChecked for a typed error instead.
func Inverse(lat1, lon1, lat2, lon2 float64) (s12, azi1, azi2 float64) {
	s12, salp1, calp1, salp2, calp2 := wgs84.inverse(lat1, lon1, lat2, lon2)
	return s12, atan2d(salp1, calp1), atan2d(salp2, calp2)
}

// Direct solves the direct geodesic problem on the WGS84 ellipsoid: the
// point reached from (lat1, lon1) (degrees) after s12 metres along the
// geodesic with initial azimuth azi1 (degrees clockwise from north). It
// returns lat2 and lon2 (lon2 in [-180, 180]) and the forward azimuth azi2
// at that point. s12 may be negative (travel backwards).
//
// Invalid inputs (NaN, infinite, |lat1| > 90) give NaN results; use
// DirectChecked to get a typed error instead.
func Direct(lat1, lon1, azi1, s12 float64) (lat2, lon2, azi2 float64) {
	return wgs84.direct(lat1, lon1, azi1, s12)
}
