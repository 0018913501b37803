// Package problem owns the wire behaviour shared by the cloud's RFC 9457 problem+json error
// bodies: the media type a JSON problem is sent as, the Retry-After value of a refusal, and
// the extra response headers a problem carries (Headers, embedded in each API's problem type).
//
// Each API keeps its own Problem struct, codes and type URIs (their fields and documented
// schemas differ, and clients see them); this package holds only what must be identical.
// Headers adds no JSON or OpenAPI schema fields, so embedding it leaves the documents as they are.
package problem
