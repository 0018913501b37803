package protocol

import "math"

// BusinessType is the third element of "g": 0 normal, 1 alarm.
type BusinessType uint8

// LocationType is the fourth element of "g": 0 GPS, 1 cell tower (LBS).
type LocationType uint8

// Business and location types.
const (
	BusinessNormal BusinessType = 0
	BusinessAlarm  BusinessType = 1
	LocationGPS    LocationType = 0
	LocationLBS    LocationType = 1
)

// GPS is a decoded "g" field. Lat and Lon are decimal degrees (south and
// west negative). They are always a whole number of 1e-4 arc-minutes (the
// resolution of NMEA ddmm.mmmm, about 0.2 m), so FormatGPS(ParseGPS(s))
// round-trips exactly.
type GPS struct {
	Lat      float64      `json:"lat"`
	Lon      float64      `json:"lon"`
	Business BusinessType `json:"business"`
	Location LocationType `json:"location"`
}

// e4PerDegree is the number of 1e-4 arc-minutes in one degree.
const e4PerDegree = 600000

// ParseGPS parses "lat,lon,business_type,location_type" where lat and lon
// are NMEA ddmm.mmmm / dddmm.mmmm with an optional leading minus for S/W.
// Missing trailing fields (the sheet's own example has three) are 0. Digits
// beyond 1e-4 minutes are rounded. It rejects minutes ≥ 60 and positions
// outside ±90/±180 (ErrRange) and anything else malformed (ErrFormat); the
// error's Offset is relative to s.
func ParseGPS(s string) (GPS, error) {
	g, err := parseGPS([]byte(s))
	if err != nil {
		return GPS{}, err
	}
	return g, nil
}

func parseGPS(b []byte) (GPS, *DecodeError) {
	var g GPS
	if len(b) > 64 {
		return g, gpsErr(ErrFormat, 0, "longer than 64 bytes")
	}
	part := 0
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != ',' {
			continue
		}
		f := trimSpace(b[start:i])
		switch part {
		case 0, 1:
			maxDeg := int64(90)
			if part == 1 {
				maxDeg = 180
			}
			v, err := parseCoord(f, maxDeg, start)
			if err != nil {
				return GPS{}, err
			}
			if part == 0 {
				g.Lat = v
			} else {
				g.Lon = v
			}
		case 2, 3:
			var n uint8
			switch {
			case len(f) == 0, len(f) == 1 && f[0] == '0':
				n = 0
			case len(f) == 1 && f[0] == '1':
				n = 1
			case len(f) == 1 && f[0] >= '2' && f[0] <= '9':
				return GPS{}, gpsErr(ErrRange, start, "business/location type must be 0 or 1")
			default:
				return GPS{}, gpsErr(ErrFormat, start, "business/location type must be 0 or 1")
			}
			if part == 2 {
				g.Business = BusinessType(n)
			} else {
				g.Location = LocationType(n)
			}
		default:
			return GPS{}, gpsErr(ErrFormat, start, "more than four elements")
		}
		part++
		start = i + 1
	}
	if part < 2 {
		return GPS{}, gpsErr(ErrFormat, len(b), "need at least latitude and longitude")
	}
	return g, nil
}

func gpsErr(k ErrorKind, off int, msg string) *DecodeError {
	return &DecodeError{Kind: k, Field: "g", Offset: off, Msg: msg}
}

// parseCoord parses [-]d+[.d*] in ddmm.mmmm form to degrees.
func parseCoord(b []byte, maxDeg int64, off int) (float64, *DecodeError) {
	neg := false
	i := 0
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var whole int64
	nd := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		whole = whole*10 + int64(b[i]-'0')
		nd++
		if nd > 5 {
			return 0, gpsErr(ErrRange, off, "coordinate has more than 5 integer digits")
		}
	}
	if nd == 0 {
		return 0, gpsErr(ErrFormat, off, "coordinate is not ddmm.mmmm")
	}
	var frac int64 // 1e-4 minutes
	if i < len(b) && b[i] == '.' {
		i++
		fd := 0
		round := false
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			switch {
			case fd < 4:
				frac = frac*10 + int64(b[i]-'0')
			case fd == 4:
				round = b[i] >= '5'
			}
			fd++
			if fd > 12 {
				return 0, gpsErr(ErrFormat, off, "coordinate has more than 12 decimals")
			}
		}
		for k := fd; k < 4; k++ {
			frac *= 10
		}
		if round {
			frac++
		}
	}
	if i != len(b) {
		return 0, gpsErr(ErrFormat, off+i, "coordinate is not ddmm.mmmm")
	}
	deg, minutes := whole/100, whole%100
	if minutes >= 60 {
		return 0, gpsErr(ErrRange, off, "minutes ≥ 60")
	}
	total := deg*e4PerDegree + minutes*10000 + frac
	if total > maxDeg*e4PerDegree {
		if maxDeg == 90 {
			return 0, gpsErr(ErrRange, off, "latitude outside ±90°")
		}
		return 0, gpsErr(ErrRange, off, "longitude outside ±180°")
	}
	v := float64(total) / e4PerDegree
	if neg && total != 0 {
		v = -v
	}
	return v, nil
}

// Validate reports whether g can be formatted: finite, within ±90/±180,
// business and location types 0 or 1.
func (g GPS) Validate() error {
	if math.IsNaN(g.Lat) || g.Lat < -90 || g.Lat > 90 {
		return &ValidationError{Kind: ErrRange, Field: "g", Msg: "latitude outside ±90°"}
	}
	if math.IsNaN(g.Lon) || g.Lon < -180 || g.Lon > 180 {
		return &ValidationError{Kind: ErrRange, Field: "g", Msg: "longitude outside ±180°"}
	}
	if g.Business > 1 || g.Location > 1 {
		return &ValidationError{Kind: ErrRange, Field: "g", Msg: "business/location type must be 0 or 1"}
	}
	return nil
}

// FormatGPS renders g as "ddmm.mmmm,dddmm.mmmm,b,l" (the inverse of
// ParseGPS; the simulator uses it). Coordinates are rounded to 1e-4 minutes.
func FormatGPS(g GPS) (string, error) {
	if err := g.Validate(); err != nil {
		return "", err
	}
	return string(appendGPS(nil, g, false)), nil
}

// appendGPS assumes g is valid. short omits a zero location type (the
// sheet's three-element form).
func appendGPS(dst []byte, g GPS, short bool) []byte {
	dst = appendCoord(dst, g.Lat, 4)
	dst = append(dst, ',')
	dst = appendCoord(dst, g.Lon, 5)
	dst = append(dst, ',', '0'+byte(g.Business))
	if !short || g.Location != 0 {
		dst = append(dst, ',', '0'+byte(g.Location))
	}
	return dst
}

// AppendNMEA appends a decimal-degree value as [-]ddmm.mmmm, padding the
// integer part to width digits (4 for latitude, 5 for longitude).
func appendCoord(dst []byte, deg float64, width int) []byte {
	neg := deg < 0
	total := int64(math.Round(math.Abs(deg) * e4PerDegree))
	if neg && total != 0 {
		dst = append(dst, '-')
	}
	d, m := total/e4PerDegree, total%e4PerDegree
	whole := d*100 + m/10000
	var tmp [24]byte
	n := len(tmp)
	for w := 0; whole > 0 || w < width; w++ {
		n--
		tmp[n] = byte('0' + whole%10)
		whole /= 10
	}
	dst = append(dst, tmp[n:]...)
	f := m % 10000
	return append(dst, '.', byte('0'+f/1000), byte('0'+f/100%10), byte('0'+f/10%10), byte('0'+f%10))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') }
