// Package democity owns the demo city shipped under deploy/demo: it builds the
// Barcelona street network (an approximation made from general knowledge of
// the city, see deploy/demo/README.md) and its GBFS v3.0 geofencing zones.
//
// The output is deterministic: the same code always produces the same bytes,
// so the committed files can be regenerated and diffed
// (scooter-sim gen-city).
package democity
