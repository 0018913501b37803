package geo

// Series expansions of Karney (2013), eqs. (15)-(25) and (42)-(43),
// truncated at order 6 in the small parameter eps (and the third
// flattening n) as GeographicLib does for double precision. Each block of
// coefficients is a polynomial in eps^2 (or n) listed from the highest
// power down, followed by a common denominator.

const (
	nA1  = 6
	nC1  = 6
	nC1p = 6
	nA2  = 6
	nC2  = 6
	nA3  = 6
	nA3x = nA3
	nC3  = 6
	nC3x = (nC3 * (nC3 - 1)) / 2
)

// a1m1f returns A1 - 1, eq. (17): the scale factor of the distance
// integral I1.
func a1m1f(eps float64) float64 {
	// (1-eps)*A1-1, polynomial in eps^2 of order 3.
	coeff := [...]float64{1, 4, 64, 0, 256}
	const m = nA1 / 2
	t := polyval(m, coeff[:], eps*eps) / coeff[m+1]
	return (t + eps) / (1 - eps)
}

// c1f fills c[1..nC1] with the coefficients C1[l] of eq. (18).
func c1f(eps float64, c *[nC1 + 1]float64) {
	coeff := [...]float64{
		-1, 6, -16, 32, // C1[1]/eps^1, order 2 in eps^2
		-9, 64, -128, 2048, // C1[2]/eps^2, order 2
		9, -16, 768, // C1[3]/eps^3, order 1
		3, -5, 512, // C1[4]/eps^4, order 1
		-7, 1280, // C1[5]/eps^5, order 0
		-7, 2048, // C1[6]/eps^6, order 0
	}
	eps2 := eps * eps
	d := eps
	o := 0
	for l := 1; l <= nC1; l++ {
		m := (nC1 - l) / 2
		c[l] = d * polyval(m, coeff[o:], eps2) / coeff[o+m+1]
		o += m + 2
		d *= eps
	}
}

// c1pf fills c[1..nC1p] with the coefficients C1'[l] of eq. (21), the
// reversion of the distance series used by the direct problem.
func c1pf(eps float64, c *[nC1p + 1]float64) {
	coeff := [...]float64{
		205, -432, 768, 1536, // C1p[1]/eps^1, order 2 in eps^2
		4005, -4736, 3840, 12288, // C1p[2]/eps^2, order 2
		-225, 116, 384, // C1p[3]/eps^3, order 1
		-7173, 2695, 7680, // C1p[4]/eps^4, order 1
		3467, 7680, // C1p[5]/eps^5, order 0
		38081, 61440, // C1p[6]/eps^6, order 0
	}
	eps2 := eps * eps
	d := eps
	o := 0
	for l := 1; l <= nC1p; l++ {
		m := (nC1p - l) / 2
		c[l] = d * polyval(m, coeff[o:], eps2) / coeff[o+m+1]
		o += m + 2
		d *= eps
	}
}

// a2m1f returns A2 - 1, eq. (42): the scale factor of the integral I2
// used for the reduced length.
func a2m1f(eps float64) float64 {
	// (eps+1)*A2-1, polynomial in eps^2 of order 3.
	coeff := [...]float64{-11, -28, -192, 0, 256}
	const m = nA2 / 2
	t := polyval(m, coeff[:], eps*eps) / coeff[m+1]
	return (t - eps) / (1 + eps)
}

// c2f fills c[1..nC2] with the coefficients C2[l] of eq. (43).
func c2f(eps float64, c *[nC2 + 1]float64) {
	coeff := [...]float64{
		1, 2, 16, 32, // C2[1]/eps^1, order 2 in eps^2
		35, 64, 384, 2048, // C2[2]/eps^2, order 2
		15, 80, 768, // C2[3]/eps^3, order 1
		7, 35, 512, // C2[4]/eps^4, order 1
		63, 1280, // C2[5]/eps^5, order 0
		77, 2048, // C2[6]/eps^6, order 0
	}
	eps2 := eps * eps
	d := eps
	o := 0
	for l := 1; l <= nC2; l++ {
		m := (nC2 - l) / 2
		c[l] = d * polyval(m, coeff[o:], eps2) / coeff[o+m+1]
		o += m + 2
		d *= eps
	}
}

// a3Coeffs returns the coefficients of A3 (eq. 24) as a polynomial in
// eps, highest power first, for third flattening n.
func a3Coeffs(n float64) [nA3x]float64 {
	coeff := [...]float64{
		-3, 128, // eps^5, order 0 in n
		-2, -3, 64, // eps^4, order 1
		-1, -3, -1, 16, // eps^3, order 2
		3, -1, -2, 8, // eps^2, order 2
		1, -1, 2, // eps^1, order 1
		1, 1, // eps^0, order 0
	}
	var a [nA3x]float64
	o, k := 0, 0
	for j := nA3 - 1; j >= 0; j-- {
		m := min(nA3-j-1, j)
		a[k] = polyval(m, coeff[o:], n) / coeff[o+m+1]
		k++
		o += m + 2
	}
	return a
}

// c3Coeffs returns the coefficients of C3[l] (eq. 25) as polynomials in
// eps for third flattening n, grouped by l, highest power first.
func c3Coeffs(n float64) [nC3x]float64 {
	coeff := [...]float64{
		3, 128, // C3[1], eps^5, order 0 in n
		2, 5, 128, // C3[1], eps^4, order 1
		-1, 3, 3, 64, // C3[1], eps^3, order 2
		-1, 0, 1, 8, // C3[1], eps^2, order 2
		-1, 1, 4, // C3[1], eps^1, order 1
		5, 256, // C3[2], eps^5, order 0
		1, 3, 128, // C3[2], eps^4, order 1
		-3, -2, 3, 64, // C3[2], eps^3, order 2
		1, -3, 2, 32, // C3[2], eps^2, order 2
		7, 512, // C3[3], eps^5, order 0
		-10, 9, 384, // C3[3], eps^4, order 1
		5, -9, 5, 192, // C3[3], eps^3, order 2
		7, 512, // C3[4], eps^5, order 0
		-14, 7, 512, // C3[4], eps^4, order 1
		21, 2560, // C3[5], eps^5, order 0
	}
	var c [nC3x]float64
	o, k := 0, 0
	for l := 1; l < nC3; l++ {
		for j := nC3 - 1; j >= l; j-- {
			m := min(nC3-j-1, j)
			c[k] = polyval(m, coeff[o:], n) / coeff[o+m+1]
			k++
			o += m + 2
		}
	}
	return c
}

// sinSeries evaluates sum(c[l] * sin(2*l*x), l = 1..n) by Clenshaw
// summation, given sinx and cosx; c[0] is unused.
func sinSeries(sinx, cosx float64, c []float64, n int) float64 {
	ar := 2 * (cosx - sinx) * (cosx + sinx) // 2*cos(2x)
	var y0, y1 float64
	k := n + 1 // one beyond the last element
	if n&1 != 0 {
		k--
		y0 = c[k]
	}
	for i := n / 2; i > 0; i-- {
		k--
		y1 = ar*y0 - y1 + c[k]
		k--
		y0 = ar*y1 - y0 + c[k]
	}
	return 2 * sinx * cosx * y0 // sin(2x) * y0
}
