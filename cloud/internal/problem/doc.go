// Package problem owns the wire behaviour shared by the cloud's RFC 9457 problem+json error
// bodies: the media type a JSON problem is sent as and the Retry-After value of a refusal.
//
// Each API keeps its own Problem struct, codes and type URIs (their fields and documented
// schemas differ, and clients see them); this package holds only what must be identical.
package problem
