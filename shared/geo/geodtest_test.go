package geo

import (
	"bufio"
	"compress/gzip"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// geodTestLine is one geodesic of GeographicLib's GeodTest data.
type geodTestLine struct {
	lat1, lon1, azi1, lat2, lon2, azi2, s12, m12 float64
}

// readGeodTest reads testdata/GeodTest-short.dat.gz (see testdata/README.md).
func readGeodTest(t testing.TB) []geodTestLine {
	t.Helper()
	f, err := os.Open("testdata/GeodTest-short.dat.gz")
	if err != nil {
		t.Fatalf("open test data: %v", err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Errorf("close test data: %v", err)
		}
	}()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	var lines []geodTestLine
	sc := bufio.NewScanner(zr)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) != 10 {
			t.Fatalf("line %d: %d fields, want 10", n, len(fields))
		}
		var v [9]float64
		for i := range v {
			v[i], err = strconv.ParseFloat(fields[i], 64)
			if err != nil {
				t.Fatalf("line %d field %d: %v", n, i+1, err)
			}
		}
		lines = append(lines, geodTestLine{lat1: v[0], lon1: v[1], azi1: v[2], lat2: v[3], lon2: v[4], azi2: v[5], s12: v[6], m12: v[8]})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read test data: %v", err)
	}
	if err := zr.Close(); err != nil {
		t.Fatalf("gzip close: %v", err)
	}
	return lines
}

// geodTestCategories names the line ranges of GeodTest-short.dat.
var geodTestCategories = []struct {
	name       string
	first, end int // 1-based, inclusive
}{
	{"random", 1, 2000},
	{"nearly antipodal", 2001, 3000},
	{"short", 3001, 4000},
	{"one end near pole", 4001, 5000},
	{"both ends near pole", 5001, 6000},
	{"nearly meridional", 6001, 7000},
	{"nearly equatorial", 7001, 8000},
	{"between vertices", 8001, 9000},
	{"ending near vertices", 9001, 10000},
}

func azDiff(a, b float64) float64 {
	d, _ := angDiff(a, b)
	return math.Abs(d)
}

// positionError returns the distance in metres between two nearby points,
// from the local radii of curvature (independent of Inverse).
func positionError(lat1, lon1, lat2, lon2 float64) float64 {
	e2 := wgs84.e2
	s, c := sincosd(lat1)
	w := math.Sqrt(1 - e2*s*s)
	mRad := WGS84A * (1 - e2) / (w * w * w) // meridional radius
	nRad := WGS84A / w                      // prime vertical radius
	dlon, _ := angDiff(lon1, lon2)
	return math.Hypot(mRad*(lat2-lat1)*degree, nRad*c*dlon*degree)
}

// Accuracy limits asserted against GeodTest (the measured errors are
// about 1e-8 m; these leave room for other platforms' rounding).
const (
	maxInverseErrShort = 1e-4 // m, for s12 <= 100 km
	maxInverseErr      = 1e-3 // m, any distance
	// Azimuth errors are asserted as the displacement they cause at the
	// other end, |m12| * dazi (m12 = reduced length): the raw azimuth is
	// ill-conditioned where m12 -> 0 (e.g. the "between vertices" lines,
	// whose ends are nearly conjugate points).
	maxAzimuthDisplacement = 1e-6 // m
	maxDirectPosErr        = 1e-3 // m
	maxDirectAzi2Err       = 1e-7 // degrees
)

func TestGeodTest(t *testing.T) {
	lines := readGeodTest(t)
	if len(lines) != 10000 {
		t.Fatalf("read %d lines, want 10000", len(lines))
	}
	for _, cat := range geodTestCategories {
		t.Run(cat.name, func(t *testing.T) {
			var maxS, maxAz1, maxAz2, maxAz1Deg, maxPos, maxDAzi2 float64
			for n := cat.first; n <= cat.end; n++ {
				l := lines[n-1]
				s12, azi1, azi2 := Inverse(l.lat1, l.lon1, l.lat2, l.lon2)
				ds := math.Abs(s12 - l.s12)
				limit := maxInverseErr
				if l.s12 <= 100e3 {
					limit = maxInverseErrShort
				}
				if !(ds <= limit) {
					t.Errorf("line %d: Inverse s12 = %.10f, want %.10f (error %.3g m > %g m)", n, s12, l.s12, ds, limit)
				}
				da1 := math.Abs(l.m12) * azDiff(azi1, l.azi1) * degree
				da2 := math.Abs(l.m12) * azDiff(azi2, l.azi2) * degree
				if !(da1 <= maxAzimuthDisplacement) || !(da2 <= maxAzimuthDisplacement) {
					t.Errorf("line %d: Inverse azi1 = %.15g (want %.15g), azi2 = %.15g (want %.15g): displacement %.3g, %.3g m",
						n, azi1, l.azi1, azi2, l.azi2, da1, da2)
				}
				maxS = math.Max(maxS, ds)
				maxAz1 = math.Max(maxAz1, da1)
				maxAz2 = math.Max(maxAz2, da2)
				maxAz1Deg = math.Max(maxAz1Deg, azDiff(azi1, l.azi1))

				lat2, lon2, dazi2 := Direct(l.lat1, l.lon1, l.azi1, l.s12)
				dp := positionError(l.lat2, l.lon2, lat2, lon2)
				if !(dp <= maxDirectPosErr) {
					t.Errorf("line %d: Direct = (%.15g, %.15g), want (%.15g, %.15g): %.3g m apart", n, lat2, lon2, l.lat2, l.lon2, dp)
				}
				daz := azDiff(dazi2, l.azi2)
				if !(daz <= maxDirectAzi2Err) {
					t.Errorf("line %d: Direct azi2 = %.15g, want %.15g (error %.3g deg)", n, dazi2, l.azi2, daz)
				}
				maxPos = math.Max(maxPos, dp)
				maxDAzi2 = math.Max(maxDAzi2, daz)
			}
			t.Logf("max errors: inverse s12 %.3g m, azi1 %.3g m (%.3g deg), azi2 %.3g m; direct position %.3g m, azi2 %.3g deg",
				maxS, maxAz1, maxAz1Deg, maxAz2, maxPos, maxDAzi2)
		})
	}
}
