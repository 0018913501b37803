package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// geoCommand is "fleetctl geo": geodesic calculations on WGS84.
func geoCommand() command {
	return command{
		name:    "geo",
		summary: "geodesic calculations on the WGS84 ellipsoid (Karney's algorithms)",
		subs: []command{
			{
				name:    "inverse",
				args:    "LAT1 LON1 LAT2 LON2",
				summary: "distance and azimuths between two points",
				long: "Prints {\"s12_m\", \"azi1_deg\", \"azi2_deg\"}: the geodesic distance in metres and the\n" +
					"forward azimuths at both points in degrees clockwise from north. Coordinates are\n" +
					"decimal degrees, latitude in [-90, 90], longitude in [-180, 180].",
				setup: func(*flag.FlagSet) leafFunc { return geoInverse },
			},
			{
				name:    "direct",
				args:    "LAT1 LON1 AZI1 S12",
				summary: "point reached from a point along an azimuth after a distance",
				long: "Prints {\"lat2_deg\", \"lon2_deg\", \"azi2_deg\"}: the end point and the forward azimuth\n" +
					"there, starting at LAT1 LON1 (degrees) with azimuth AZI1 (degrees clockwise from\n" +
					"north) and travelling S12 metres (negative: backwards).",
				setup: func(*flag.FlagSet) leafFunc { return geoDirect },
			},
		},
	}
}

type geoInverseOutput struct {
	S12  float64 `json:"s12_m"`
	Azi1 float64 `json:"azi1_deg"`
	Azi2 float64 `json:"azi2_deg"`
}

type geoDirectOutput struct {
	Lat2 float64 `json:"lat2_deg"`
	Lon2 float64 `json:"lon2_deg"`
	Azi2 float64 `json:"azi2_deg"`
}

func geoInverse(_ context.Context, s streams, args []string) error {
	path := []string{"geo", "inverse"}
	v, err := parseFloats(path, args, "LAT1", "LON1", "LAT2", "LON2")
	if err != nil {
		return err
	}
	s12, azi1, azi2, err := geo.InverseChecked(v[0], v[1], v[2], v[3])
	if err != nil {
		return usagef(path, "%w", err)
	}
	return writeJSON(s, geoInverseOutput{S12: s12, Azi1: azi1, Azi2: azi2})
}

func geoDirect(_ context.Context, s streams, args []string) error {
	path := []string{"geo", "direct"}
	v, err := parseFloats(path, args, "LAT1", "LON1", "AZI1", "S12")
	if err != nil {
		return err
	}
	lat2, lon2, azi2, err := geo.DirectChecked(v[0], v[1], v[2], v[3])
	if err != nil {
		return usagef(path, "%w", err)
	}
	return writeJSON(s, geoDirectOutput{Lat2: lat2, Lon2: lon2, Azi2: azi2})
}

// parseFloats parses exactly len(names) decimal arguments.
func parseFloats(path, args []string, names ...string) ([]float64, error) {
	if len(args) != len(names) {
		return nil, usagef(path, "need %d arguments %s, got %d", len(names), strings.Join(names, " "), len(args))
	}
	v := make([]float64, len(args))
	for i, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return nil, usagef(path, "%s: %q is not a number", names[i], a)
		}
		v[i] = f
	}
	return v, nil
}

func writeJSON(s streams, v any) error {
	if err := json.NewEncoder(s.out).Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
