// Package citymap owns the street graphs the scooter simulator rides on: the
// on-disk street file (named polylines over shared nodes), the graph built from
// it (edges with geodesic lengths and azimuths), shortest-path routing for random
// trips, and positions along a route.
//
// Invariants: every edge joins two existing, distinct nodes and has a positive
// geodesic length (WGS84, shared/geo); a Graph is immutable once built and safe
// for concurrent use; a Route only ever follows edges of its graph.
package citymap
