package protocol

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxPayload is the largest payload Decode and DecodeCommand accept and the
// encoders produce, in bytes. The largest legitimate messages are 67 (a
// 1024-byte firmware package, 2048 hex characters, ~2.1 KB) and 78 (six log
// strings of at most 1024 bytes each, ~6.2 KB unescaped); 8 KiB admits both.
const MaxPayload = 8192

// maxNesting bounds how deep an ignored unknown field's object/array may nest.
const maxNesting = 32

// numKeys: one slot per single-letter key a–z, A–Z.
const numKeys = 52

func keyIndex(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 26
	}
	return -1
}

const (
	rvPresent uint8 = 1 << iota
	rvQuoted
	rvEscaped
	rvNested
)

// rawVal locates one value in the payload; the payload is never copied.
type rawVal struct {
	start, end uint16 // value bytes, without the quotes of a quoted string
	key        uint16 // offset of the key, for errors
	flags      uint8
}

// Offsets fit in uint16 because MaxPayload is checked before scanning.
var _ [65535 - MaxPayload]struct{}

func (r rawVal) empty() bool { return r.start == r.end && r.flags&rvQuoted == 0 }

// rawObject is one scanned payload: the last value seen for each
// single-letter key. Multi-letter keys are unknown fields and are skipped.
type rawObject struct {
	v [numKeys]rawVal
}

func synErr(off int, msg string) *DecodeError {
	return &DecodeError{Kind: ErrSyntax, Offset: off, Msg: msg}
}

// scanObject scans the vendor's JSON dialect: a flat object whose values may
// be quoted strings containing unescaped quotes, bare words (numbers,
// unquoted strings with commas and colons, nothing at all), and whose last
// member may be followed by a comma. Unknown keys may hold nested JSON, which
// is skipped. Work is linear in len(p): every lookahead stops after a bounded
// number of bytes or at the next quote.
func scanObject(p []byte, o *rawObject) *DecodeError {
	n := len(p)
	i := skipWS(p, 0)
	if i >= n || p[i] != '{' {
		return synErr(i, "expected '{'")
	}
	i++
	for {
		i = skipWS(p, i)
		if i >= n {
			return synErr(i, "unterminated object")
		}
		if p[i] == '}' {
			i++
			break
		}
		ks := i
		var kb, ke int
		switch {
		case p[i] == '"':
			j := i + 1
			for j < n && p[j] != '"' {
				if p[j] == '\\' {
					return synErr(j, "escape in a key")
				}
				j++
			}
			if j >= n {
				return synErr(i, "unterminated key")
			}
			kb, ke, i = i+1, j, j+1
		case isKeyChar(p[i]):
			j := i
			for j < n && isKeyChar(p[j]) {
				j++
			}
			kb, ke, i = i, j, j
		default:
			return synErr(i, "expected a key")
		}
		i = skipWS(p, i)
		if i >= n || p[i] != ':' {
			return synErr(i, "expected ':' after a key")
		}
		i = skipWS(p, i+1)
		rv := rawVal{key: uint16(ks), flags: rvPresent}
		switch {
		case i < n && p[i] == '"':
			j := i + 1
			for {
				// Jump to the next quote (IndexByte is vectorised), then
				// look for escapes only in the bytes jumped over.
				k := bytes.IndexByte(p[j:], '"')
				if k < 0 {
					return synErr(i, "unterminated string")
				}
				if bytes.IndexByte(p[j:j+k], '\\') >= 0 {
					// Slow path: an escape may hide this quote.
					for j < n && p[j] != '"' {
						if p[j] == '\\' {
							rv.flags |= rvEscaped
							j++
						}
						j++
					}
					if j >= n {
						return synErr(i, "unterminated string")
					}
				} else {
					j += k
				}
				if valueEndsAt(p, j+1) {
					break
				}
				j++
			}
			rv.start, rv.end = uint16(i+1), uint16(j)
			rv.flags |= rvQuoted
			i = j + 1
		case i < n && (p[i] == '{' || p[i] == '['):
			j, err := skipNested(p, i)
			if err != nil {
				return err
			}
			rv.start, rv.end = uint16(i), uint16(j)
			rv.flags |= rvNested
			i = j
		default:
			j := i
			for {
				if j >= n {
					return synErr(i, "unterminated value")
				}
				c := p[j]
				if c == ',' && afterComma(p, j+1) || c == '}' && restWS(p, j+1) {
					break
				}
				j++
			}
			s, e := i, j
			for e > s && isSpace(p[e-1]) {
				e--
			}
			if e-s == 4 && string(p[s:e]) == "null" {
				e = s // null is no value, like "s":}
			}
			rv.start, rv.end = uint16(s), uint16(e)
			i = j
		}
		if ke-kb == 1 {
			if k := keyIndex(p[kb]); k >= 0 {
				o.v[k] = rv
			}
		}
		i = skipWS(p, i)
		if i >= n {
			return synErr(i, "unterminated object")
		}
		if p[i] == ',' {
			i++
			continue
		}
		if p[i] == '}' {
			i++
			break
		}
		return synErr(i, "expected ',' or '}'")
	}
	if i = skipWS(p, i); i != n {
		return synErr(i, "data after the object")
	}
	return nil
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// skipWS is split so that the common case (no blank) inlines.
func skipWS(p []byte, i int) int {
	if i < len(p) && p[i] > ' ' {
		return i
	}
	return skipWSSlow(p, i)
}

func skipWSSlow(p []byte, i int) int {
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	return i
}

func restWS(p []byte, i int) bool { return skipWS(p, i) == len(p) }

// valueEndsAt reports whether a value that ended just before p[i] is followed
// by a member separator (',' then a key or '}') or the final '}'.
func valueEndsAt(p []byte, i int) bool {
	i = skipWS(p, i)
	if i >= len(p) {
		return false
	}
	switch p[i] {
	case '}':
		return restWS(p, i+1)
	case ',':
		return afterComma(p, i+1)
	}
	return false
}

// maxKeyLookahead bounds how far afterComma looks for `key:`.
const maxKeyLookahead = 64

// afterComma reports whether what follows a comma at p[i-1] looks like the
// next member (`"key":`, `key:`) or the end of the object (trailing comma).
func afterComma(p []byte, i int) bool {
	n := len(p)
	i = skipWS(p, i)
	if i >= n {
		return false
	}
	c := p[i]
	switch {
	case c == '}':
		return restWS(p, i+1)
	case c == '"':
		j := i + 1
		for ; j < n && j-i <= maxKeyLookahead; j++ {
			d := p[j]
			if d == '"' {
				break
			}
			if d < 0x20 || d == '\\' || d == ',' || d == '{' || d == '}' || d == ':' {
				return false
			}
		}
		if j >= n || p[j] != '"' || j == i+1 {
			return false
		}
		j = skipWS(p, j+1)
		return j < n && p[j] == ':'
	case isKeyChar(c):
		j := i
		for j < n && isKeyChar(p[j]) && j-i <= maxKeyLookahead {
			j++
		}
		j = skipWS(p, j)
		return j < n && p[j] == ':'
	}
	return false
}

// skipNested skips a JSON object or array starting at p[i] (strict JSON
// strings inside) and returns the index after it.
func skipNested(p []byte, i int) (int, *DecodeError) {
	depth := 0
	start := i
	for i < len(p) {
		switch p[i] {
		case '{', '[':
			depth++
			if depth > maxNesting {
				return 0, synErr(i, "nesting too deep")
			}
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"':
			i++
			for i < len(p) && p[i] != '"' {
				if p[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(p) {
				return 0, synErr(start, "unterminated string in a nested value")
			}
		}
		i++
	}
	return 0, synErr(start, "unterminated nested value")
}

// parseIntBytes parses [+-]digits with an optional all-zero fraction ("12.0").
func parseIntBytes(b []byte) (int64, ErrorKind, string) {
	b = trimSpace(b)
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var u uint64
	nd := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if u > (1<<63)/10 {
			return 0, ErrRange, "integer overflows int64"
		}
		u = u*10 + uint64(b[i]-'0')
		nd++
	}
	if nd == 0 {
		return 0, ErrSyntax, "not an integer"
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] == '0'; i++ {
		}
		if i < len(b) && b[i] >= '1' && b[i] <= '9' {
			return 0, ErrSyntax, "integer field has a non-zero fraction"
		}
	}
	if i != len(b) {
		return 0, ErrSyntax, "not an integer"
	}
	if neg {
		if u > 1<<63 {
			return 0, ErrRange, "integer overflows int64"
		}
		return -int64(u), 0, ""
	}
	if u > 1<<63-1 {
		return 0, ErrRange, "integer overflows int64"
	}
	return int64(u), 0, ""
}

// parseFloatBytes parses a decimal number; no NaN, Inf, hex or underscores.
func parseFloatBytes(b []byte) (float64, bool) {
	b = trimSpace(b)
	if len(b) == 0 || len(b) > 32 {
		return 0, false
	}
	digits := false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	if f, ok := fastFloat(b); ok {
		return f, true
	}
	var buf [32]byte
	f, err := strconv.ParseFloat(string(append(buf[:0], b...)), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// unescape decodes JSON escapes. Invalid escapes are kept literally: the
// vendor may send stray backslashes and tolerance beats dropping a reply.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i+1:])
			if !ok {
				out = append(out, '\\', 'u')
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if r2, ok := hex4(b[i+3:]); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							out = utf8.AppendRune(out, d)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, '\\', b[i])
		}
	}
	return out
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		v := unhex(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// fastFloat converts [-]digits[.digits] with at most 15 digits exactly:
// the mantissa and the power of ten are both exact float64 values, so one
// correctly rounded division gives the correctly rounded result (Clinger's
// fast path), the same as strconv.ParseFloat.
func fastFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if b[0] == '-' {
		neg = true
		i++
	}
	var m uint64
	nd, frac := 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			nd++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if nd == 0 || nd > 15 {
		return 0, false
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}
