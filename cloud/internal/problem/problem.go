package problem

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// MediaType is the content type of a JSON problem detail (RFC 9457).
const MediaType = "application/problem+json"

// ContentType maps the negotiated content type of an error body to the one a problem is sent
// as: JSON becomes problem+json, anything else is kept (for huma.ContentTypeFilter).
func ContentType(ct string) string {
	if ct == "application/json" {
		return MediaType
	}
	return ct
}

// RetryAfter is the Retry-After header value for a wait of d: whole seconds rounded up, at
// least 1 (a zero or negative wait still tells the client to back off).
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}

// Headers holds the extra response headers of a problem (Retry-After). Embed it in an API's
// problem type to implement huma.HeadersError; it adds no JSON or schema fields.
type Headers struct {
	h http.Header
}

// GetHeaders returns the headers, allocating them on first use (huma.HeadersError).
func (x *Headers) GetHeaders() http.Header {
	if x.h == nil {
		x.h = http.Header{}
	}
	return x.h
}
