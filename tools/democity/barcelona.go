package democity

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/fleetedge/fleetedge/tools/citymap"
)

// Eixample grid parameters. The grid origin is the crossing of Passeig de
// Gràcia and Gran Via; column streets (parallel to Passeig de Gràcia) run
// towards the mountain at azimuth gridAzB, row streets (parallel to Gran Via
// and the coast) run at gridAzA. Cerdà's pitch is 113.3 m blocks + 20 m streets.
const (
	originLat = 41.3895
	originLon = 2.1678
	gridAzA   = 44.5  // along Gran Via, towards Glòries
	gridAzB   = 314.5 // along Passeig de Gràcia, uphill
	pitch     = 133.3 // metres
	minCol    = -16
	maxCol    = 17
	// Diagonal crosses the grid as the line row = diagRow0 + diagSlope*col
	// (from Francesc Macià at col -9 to Glòries at col 17).
	diagRow0  = 8.3
	diagSlope = -0.49
	diagWest  = -9
)

// Column streets by grid column (0 = Passeig de Gràcia).
var columnNames = map[int]string{
	-16: "Carrer de Tarragona", -15: "Carrer de Llançà", -14: "Carrer de Vilamarí",
	-13: "Carrer d'Entença", -12: "Carrer de Rocafort", -11: "Carrer de Calàbria",
	-10: "Carrer de Viladomat", -9: "Carrer del Comte Borrell", -8: "Carrer del Comte d'Urgell",
	-7: "Carrer de Villarroel", -6: "Carrer de Casanova", -5: "Carrer de Muntaner",
	-4: "Carrer d'Aribau", -3: "Carrer d'Enric Granados", -2: "Carrer de Balmes",
	-1: "Rambla de Catalunya", 0: "Passeig de Gràcia", 1: "Carrer de Pau Claris",
	2: "Carrer de Roger de Llúria", 3: "Carrer del Bruc", 4: "Carrer de Girona",
	5: "Carrer de Bailèn", 6: "Passeig de Sant Joan", 7: "Carrer de Roger de Flor",
	8: "Carrer de Nàpols", 9: "Carrer de Sicília", 10: "Carrer de Sardenya",
	11: "Carrer de la Marina", 12: "Carrer de Lepant", 13: "Carrer de Padilla",
	14: "Carrer del Dos de Maig", 15: "Carrer de Cartagena", 16: "Carrer de Castillejos",
	17: "Plaça de les Glòries Catalanes",
}

// Row streets by grid row (0 = Gran Via).
var rowNames = map[int]string{
	-1: "Carrer de Casp / Sepúlveda", 0: "Gran Via de les Corts Catalanes", 1: "Carrer de la Diputació",
	2: "Carrer del Consell de Cent", 3: "Carrer d'Aragó", 4: "Carrer de València",
	5: "Carrer de Mallorca", 6: "Carrer de Provença", 7: "Carrer del Rosselló",
	8: "Carrer de Còrsega", 9: "Carrer de París", 10: "Carrer de Londres",
	11: "Carrer de Buenos Aires", 12: "Carrer del Rector Ubach / Avenir", 13: "Carrer de Laforja",
}

// Real places (approximate WGS84, from general knowledge of the city).
var (
	plCatalunya   = citymap.Point{Lat: 41.3870, Lon: 2.1700}
	plUniversitat = citymap.Point{Lat: 41.3862, Lon: 2.1640}
	plUrquinaona  = citymap.Point{Lat: 41.3891, Lon: 2.1733}
	arcTriomf     = citymap.Point{Lat: 41.3911, Lon: 2.1806}
	colom         = citymap.Point{Lat: 41.3758, Lon: 2.1778}
	antonioLopez  = citymap.Point{Lat: 41.3808, Lon: 2.1816}
	plEspanya     = citymap.Point{Lat: 41.3750, Lon: 2.1490}
	sagrada       = citymap.Point{Lat: 41.4036, Lon: 2.1744}
	plTetuan      = citymap.Point{Lat: 41.3949, Lon: 2.1753}
)

// Old-town and outer avenues as real-coordinate polylines.
var polylines = []struct {
	name string
	pts  []citymap.Point
}{
	{"La Rambla", []citymap.Point{plCatalunya, {Lat: 41.3848, Lon: 2.1716}, {Lat: 41.3823, Lon: 2.1728}, {Lat: 41.3807, Lon: 2.1735}, {Lat: 41.3783, Lon: 2.1752}, colom}},
	{"Via Laietana", []citymap.Point{plUrquinaona, {Lat: 41.3855, Lon: 2.1770}, {Lat: 41.3835, Lon: 2.1785}, antonioLopez}},
	{"Passeig de Colom", []citymap.Point{colom, {Lat: 41.3785, Lon: 2.1800}, antonioLopez}},
	{"Avinguda del Paral·lel", []citymap.Point{plEspanya, {Lat: 41.3745, Lon: 2.1560}, {Lat: 41.3747, Lon: 2.1665}, {Lat: 41.3750, Lon: 2.1700}, {Lat: 41.3755, Lon: 2.1752}, colom}},
	{"Ronda de Sant Antoni / Sant Pau", []citymap.Point{plUniversitat, {Lat: 41.3820, Lon: 2.1628}, {Lat: 41.3790, Lon: 2.1622}, {Lat: 41.3765, Lon: 2.1650}, {Lat: 41.3747, Lon: 2.1665}}},
	{"Ronda de la Universitat", []citymap.Point{plUniversitat, plCatalunya}},
	{"Ronda de Sant Pere", []citymap.Point{plCatalunya, plUrquinaona, {Lat: 41.3905, Lon: 2.1775}, arcTriomf}},
	{"Passeig de Lluís Companys", []citymap.Point{arcTriomf, {Lat: 41.3888, Lon: 2.1833}, {Lat: 41.3868, Lon: 2.1853}}},
	{"Carrer de Ferran / Jaume I", []citymap.Point{{Lat: 41.3807, Lon: 2.1735}, {Lat: 41.3815, Lon: 2.1755}, {Lat: 41.3830, Lon: 2.1775}, {Lat: 41.3835, Lon: 2.1785}}},
	// Diagonal west of Francesc Macià leaves the operating area on purpose.
	{"Avinguda Diagonal (oest)", []citymap.Point{{Lat: 41.3926, Lon: 2.1432}, {Lat: 41.3897, Lon: 2.1354}, {Lat: 41.3880, Lon: 2.1270}}},
}

// Ring of the Parc de la Ciutadella (no-ride zone), approximate.
var ciutadella = []citymap.Point{
	{Lat: 41.3903, Lon: 2.1858}, {Lat: 41.3869, Lon: 2.1920}, {Lat: 41.3836, Lon: 2.1893},
	{Lat: 41.3847, Lon: 2.1852}, {Lat: 41.3868, Lon: 2.1853},
}

// Ring of Ciutat Vella (old town slow zone) just inside the rondas, Paral·lel
// and the port, approximate.
var ciutatVella = []citymap.Point{
	{Lat: 41.3858, Lon: 2.1645}, {Lat: 41.3866, Lon: 2.1700}, {Lat: 41.3886, Lon: 2.1735},
	{Lat: 41.3903, Lon: 2.1800}, {Lat: 41.3870, Lon: 2.1845}, {Lat: 41.3805, Lon: 2.1822},
	{Lat: 41.3752, Lon: 2.1785}, {Lat: 41.3752, Lon: 2.1668}, {Lat: 41.3768, Lon: 2.1652},
	{Lat: 41.3792, Lon: 2.1627}, {Lat: 41.3822, Lon: 2.1633},
}

// builder accumulates nodes (deduplicated by position) and streets.
type builder struct {
	f     citymap.File
	index map[[2]int64]int
}

func (b *builder) node(p citymap.Point) int {
	k := [2]int64{int64(math.Round(p.Lat * 1e6)), int64(math.Round(p.Lon * 1e6))}
	if i, ok := b.index[k]; ok {
		return i
	}
	b.f.Nodes = append(b.f.Nodes, [2]float64{round6(p.Lat), round6(p.Lon)})
	b.index[k] = len(b.f.Nodes) - 1
	return len(b.f.Nodes) - 1
}

func (b *builder) street(name string, nodes []int) {
	// Drop consecutive repeats (snapped points).
	out := nodes[:0:0]
	for _, n := range nodes {
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	if len(out) >= 2 {
		b.f.Streets = append(b.f.Streets, citymap.Street{Name: name, Nodes: out})
	}
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// gridPoint is the position of grid coordinates (col, row), fractional allowed.
func gridPoint(col, row float64) citymap.Point {
	lat, lon, _ := geo.Direct(originLat, originLon, gridAzA, col*pitch)
	lat, lon, _ = geo.Direct(lat, lon, gridAzB, row*pitch)
	return citymap.Point{Lat: lat, Lon: lon}
}

func diagRow(col int) float64 { return diagRow0 + diagSlope*float64(col) }

// maxRow is the highest grid row of column col: the grid continues above
// Diagonal (Sant Gervasi, Sagrada Família) but stops below Gràcia.
func maxRow(col int) int {
	switch {
	case col <= -10:
		return 10
	case col <= -1:
		return 13
	}
	return 9
}

func minRow(col int) int {
	if col < -14 || col > 12 {
		return 0
	}
	return -1
}

// snap rounds a grid coordinate that is within 0.05 pitch of a grid line.
func snap(x float64) float64 {
	if r := math.Round(x); math.Abs(x-r) < 0.05 {
		return r
	}
	return x
}

// stop is a node on a street at a parameter along it (row or column).
type stop struct {
	at   float64
	node int
}

func sortStops(s []stop) []int {
	sort.Slice(s, func(i, j int) bool { return s[i].at < s[j].at })
	out := make([]int, len(s))
	for i := range s {
		out[i] = s[i].node
	}
	return out
}

// Streets builds the Barcelona street file.
func Streets() (*citymap.File, error) {
	b := &builder{index: map[[2]int64]int{}}
	b.f.City = "barcelona"
	b.f.Source = "fleetedge demo: approximation of Barcelona's Eixample grid, Diagonal and Ciutat Vella avenues, built from general knowledge (no survey data); see deploy/demo/README.md"
	grid := map[[2]int]int{}
	has := func(c, r int) bool { _, ok := grid[[2]int{c, r}]; return ok }
	for c := minCol; c <= maxCol; c++ {
		for r := minRow(c); r <= maxRow(c); r++ {
			grid[[2]int{c, r}] = b.node(gridPoint(float64(c), float64(r)))
		}
	}
	// Diagonal is a straight line in the grid frame: it meets every column
	// and row street it crosses at a node (or at a grid node when it passes
	// within 0.05 pitch of one).
	var diag []stop
	colStops := map[int][]stop{}
	rowStops := map[int][]stop{}
	crossing := func(c, r float64) int {
		c, r = snap(c), snap(r)
		if c == math.Trunc(c) && r == math.Trunc(r) {
			if n, ok := grid[[2]int{int(c), int(r)}]; ok {
				return n
			}
		}
		return b.node(gridPoint(c, r))
	}
	for c := diagWest; c <= maxCol; c++ {
		r := snap(diagRow(c))
		if r < float64(minRow(c)) || r > float64(maxRow(c)) {
			continue
		}
		n := crossing(float64(c), r)
		diag = append(diag, stop{float64(c), n})
		if r != math.Trunc(r) {
			colStops[c] = append(colStops[c], stop{r, n})
		}
	}
	for r := -1; r <= 13; r++ {
		c := snap((float64(r) - diagRow0) / diagSlope)
		if c < diagWest || c > maxCol || c == math.Trunc(c) {
			continue
		}
		lo, hi := int(math.Floor(c)), int(math.Ceil(c))
		if !has(lo, r) || !has(hi, r) {
			continue
		}
		n := crossing(c, float64(r))
		diag = append(diag, stop{c, n})
		rowStops[r] = append(rowStops[r], stop{c, n})
	}
	for c := minCol; c <= maxCol; c++ {
		s := colStops[c]
		for r := minRow(c); r <= maxRow(c); r++ {
			s = append(s, stop{float64(r), grid[[2]int{c, r}]})
		}
		b.street(columnNames[c], sortStops(s))
	}
	// Row streets: runs of consecutive existing grid nodes (plus crossings).
	for r := -1; r <= 13; r++ {
		var run []stop
		flush := func() {
			if len(run) >= 2 {
				b.street(rowNames[r], sortStops(run))
			}
			run = nil
		}
		for c := minCol; c <= maxCol; c++ {
			n, ok := grid[[2]int{c, r}]
			if !ok {
				flush()
				continue
			}
			run = append(run, stop{float64(c), n})
			for _, x := range rowStops[r] {
				if x.at > float64(c) && x.at < float64(c+1) && has(c+1, r) {
					run = append(run, x)
				}
			}
		}
		flush()
	}
	diagNodes := sortStops(diag)
	b.street("Avinguda Diagonal", diagNodes)
	// Gran Via continues to Plaça d'Espanya.
	b.street("Gran Via de les Corts Catalanes", []int{b.node(plEspanya), grid[[2]int{minCol, 0}]})
	for _, pl := range polylines {
		ns := make([]int, 0, len(pl.pts))
		for _, p := range pl.pts {
			ns = append(ns, b.node(p))
		}
		b.street(pl.name, ns)
	}
	// Connect the old town's squares and the Diagonal's west end to the grid.
	for _, p := range []citymap.Point{plCatalunya, plUniversitat, plUrquinaona, arcTriomf, {Lat: 41.3926, Lon: 2.1432}} {
		n := b.node(p)
		best, bestD := -1, math.Inf(1)
		for _, g := range sortedValues(grid) {
			q := b.f.Nodes[g]
			d, _, _ := geo.Inverse(p.Lat, p.Lon, q[0], q[1])
			if d < bestD && g != n {
				best, bestD = g, d
			}
		}
		if best >= 0 && bestD < 250 {
			b.street("connector", []int{n, best})
		}
	}
	g, err := citymap.Build(&b.f)
	if err != nil {
		return nil, fmt.Errorf("democity: streets: %w", err)
	}
	if _, n := g.Components(); n != 1 {
		return nil, fmt.Errorf("democity: streets: %d connected components, want 1", n)
	}
	return &b.f, nil
}

func sortedValues(m map[[2]int]int) []int {
	out := make([]int, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// Updated is the last_updated stamp of the committed demo zones file: fixed so
// regenerating gives identical bytes.
var Updated = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// Graph builds the Barcelona street graph (what streets.json holds), for
// tests and benchmarks that need the demo city without reading the file.
func Graph() (*citymap.Graph, error) {
	f, err := Streets()
	if err != nil {
		return nil, err
	}
	return citymap.Build(f)
}
