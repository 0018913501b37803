package protocol

import (
	"math"
	"strconv"
)

// FieldMask records which single-letter fields a decoded message carried
// (with a non-empty value). Bit k is key a–z (k = 0…25) then A–Z (26…51).
type FieldMask uint64

// Has reports whether the field with this key was present.
func (m FieldMask) Has(key byte) bool {
	k := keyIndex(key)
	return k >= 0 && m&(1<<k) != 0
}

// With returns m with key added.
func (m FieldMask) With(key byte) FieldMask {
	if k := keyIndex(key); k >= 0 {
		return m | 1<<k
	}
	return m
}

// String lists the keys, e.g. "abcirsvx".
func (m FieldMask) String() string {
	var b []byte
	for k := 0; k < numKeys; k++ {
		if m&(1<<k) != 0 {
			b = append(b, keyByte(k))
		}
	}
	return string(b)
}

// MarshalText renders the mask as its keys.
func (m FieldMask) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses the keys back (for golden files and tools).
func (m *FieldMask) UnmarshalText(b []byte) error {
	var r FieldMask
	for _, c := range b {
		k := keyIndex(c)
		if k < 0 {
			return &ValidationError{Kind: ErrFormat, Msg: "field mask: not a key letter"}
		}
		r |= 1 << k
	}
	*m = r
	return nil
}

func keyByte(k int) byte {
	if k < 26 {
		return byte('a' + k)
	}
	return byte('A' + k - 26)
}

// visitor walks the fields of one message in registry order, either reading
// them from a scanned payload (dec) or appending them to buf. Each message's
// visit method calls the v* functions below once per field, so one method
// defines both directions and the order of the encoded fields.
type visitor struct {
	dec  bool
	spec *Spec

	// decoding
	p       []byte
	obj     rawObject // held by value: see the note on e
	present FieldMask
	err     *DecodeError

	// encoding; behind a pointer so that the appends (which escape
	// analysis sees as leaks) do not drag the decoder's scanned object, held
	// one level up, onto the heap.
	e *encoder
}

type encoder struct {
	buf  []byte
	q    Quirks
	cmd  bool      // encoding a command: strings written raw (the vendor's form)
	emit FieldMask // fields to write; 0 = all
	err  error
}

func (v *visitor) fail(kind ErrorKind, key byte, off int, msg string) {
	if v.err == nil {
		v.err = &DecodeError{Kind: kind, Code: v.spec.Code, Field: string(key), Offset: off, Msg: msg}
	}
}

func (v *visitor) encFail(kind ErrorKind, key byte, msg string) {
	if v.e.err == nil {
		v.e.err = &ValidationError{Kind: kind, Code: v.spec.Code, Field: string(key), Msg: msg}
	}
}

// take returns the raw value of key for decoding, or false when absent,
// empty, or in error (a missing required field is an error).
func (v *visitor) take(key byte, fs *FieldSpec) (rawVal, bool) {
	if v.err != nil {
		return rawVal{}, false
	}
	r := v.obj.v[keyIndex(key)]
	if r.flags&rvPresent == 0 || r.empty() || (r.flags&rvQuoted != 0 && r.start == r.end && fs.Type != FieldString) {
		if fs.Required {
			off := -1
			if r.flags&rvPresent != 0 {
				off = int(r.key)
			}
			v.fail(ErrMissingField, key, off, "required field absent or empty")
		}
		return rawVal{}, false
	}
	if r.flags&rvNested != 0 {
		v.fail(ErrType, key, int(r.start), "object or array where a value is expected")
		return rawVal{}, false
	}
	v.present = v.present.With(key)
	return r, true
}

// wants reports whether key is to be written; with Quirks.EmptyValues an
// unwanted key is written with no value.
func (v *visitor) wants(key byte) bool {
	if v.e.err != nil {
		return false
	}
	if v.e.emit == 0 || v.e.emit.Has(key) {
		return true
	}
	if v.e.q.EmptyValues.Has(key) {
		v.key(key)
	}
	return false
}

func (v *visitor) key(key byte) {
	v.e.buf = append(v.e.buf, ',', '"', key, '"', ':')
}

func (v *visitor) spec1(key byte) *FieldSpec {
	fs := v.spec.field(key)
	if fs == nil {
		// A visit method and the registry disagree: a bug caught by
		// TestRegistryMatchesTypes. Report it rather than panic.
		v.fail(ErrUnknownField, key, -1, "field not in the registry")
		v.encFail(ErrUnknownField, key, "field not in the registry")
	}
	return fs
}

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32
}

func vInt[T integer](v *visitor, key byte, p *T) {
	fs := v.spec1(key)
	if fs == nil {
		return
	}
	if v.dec {
		r, ok := v.take(key, fs)
		if !ok {
			return
		}
		n, kind, msg := parseIntBytes(v.p[r.start:r.end])
		if kind != 0 {
			v.fail(kind, key, int(r.start), msg)
			return
		}
		if n < fs.Min || n > fs.Max {
			v.fail(ErrRange, key, int(r.start), rangeMsg(fs))
			return
		}
		*p = T(n)
		return
	}
	if !v.wants(key) {
		return
	}
	n := int64(*p)
	if n < fs.Min || n > fs.Max {
		v.encFail(ErrRange, key, rangeMsg(fs))
		return
	}
	v.key(key)
	v.e.buf = strconv.AppendInt(v.e.buf, n, 10)
	if v.e.q.Decimals {
		v.e.buf = append(v.e.buf, '.', '0')
	}
}

func rangeMsg(fs *FieldSpec) string {
	return "valid range " + strconv.FormatInt(fs.Min, 10) + "–" + strconv.FormatInt(fs.Max, 10)
}

func vFloat(v *visitor, key byte, p *float64) {
	fs := v.spec1(key)
	if fs == nil {
		return
	}
	if v.dec {
		r, ok := v.take(key, fs)
		if !ok {
			return
		}
		f, ok := parseFloatBytes(v.p[r.start:r.end])
		if !ok {
			v.fail(ErrSyntax, key, int(r.start), "not a number")
			return
		}
		if f < float64(fs.Min) || f > float64(fs.Max) {
			v.fail(ErrRange, key, int(r.start), rangeMsg(fs))
			return
		}
		*p = f
		return
	}
	if !v.wants(key) {
		return
	}
	f := *p
	if math.IsNaN(f) || f < float64(fs.Min) || f > float64(fs.Max) {
		v.encFail(ErrRange, key, rangeMsg(fs))
		return
	}
	v.key(key)
	n := len(v.e.buf)
	v.e.buf = strconv.AppendFloat(v.e.buf, f, 'f', -1, 64)
	if len(v.e.buf)-n > 24 { // tiny values: 'f' would exceed what the decoder reads
		v.e.buf = strconv.AppendFloat(v.e.buf[:n], f, 'g', -1, 64)
	}
	if v.e.q.Decimals && f == math.Trunc(f) {
		v.e.buf = append(v.e.buf, '.', '0')
	}
}

func vStr(v *visitor, key byte, p *string) {
	fs := v.spec1(key)
	if fs == nil {
		return
	}
	if v.dec {
		r, ok := v.take(key, fs)
		if !ok {
			return
		}
		b := v.p[r.start:r.end]
		if r.flags&rvEscaped != 0 {
			b = unescape(b)
		}
		if int64(len(b)) < fs.Min || int64(len(b)) > fs.Max {
			v.fail(ErrRange, key, int(r.start), "length outside "+strconv.FormatInt(fs.Min, 10)+"–"+strconv.FormatInt(fs.Max, 10)+" bytes")
			return
		}
		*p = string(b)
		return
	}
	if !v.wants(key) {
		return
	}
	s := *p
	if int64(len(s)) < fs.Min || int64(len(s)) > fs.Max {
		v.encFail(ErrRange, key, "length outside "+strconv.FormatInt(fs.Min, 10)+"–"+strconv.FormatInt(fs.Max, 10)+" bytes")
		return
	}
	v.key(key)
	v.appendString(s)
}

// appendString writes a string value. Commands use the vendor's form
// (quoted, nothing escaped: constructors guarantee no backslash or control
// byte, and the only quotes are 53's, which the firmware expects raw).
// Scooter messages are escaped JSON unless a quirk asks otherwise and the
// decoder is guaranteed to read the value back unchanged.
func (v *visitor) appendString(s string) {
	switch {
	case v.e.q.UnquotedStrings && bareSafe(s):
		v.e.buf = append(v.e.buf, s...)
	case v.e.cmd || v.e.q.RawQuotes && rawSafe(s):
		v.e.buf = append(v.e.buf, '"')
		v.e.buf = append(v.e.buf, s...)
		v.e.buf = append(v.e.buf, '"')
	default:
		v.e.buf = appendEscaped(v.e.buf, s)
	}
}

func vDigits(v *visitor, key byte, p *string) {
	fs := v.spec1(key)
	if fs == nil {
		return
	}
	if v.dec {
		r, ok := v.take(key, fs)
		if !ok {
			return
		}
		b := trimSpace(v.p[r.start:r.end])
		for _, c := range b {
			if c < '0' || c > '9' {
				v.fail(ErrFormat, key, int(r.start), "not a digit string")
				return
			}
		}
		if int64(len(b)) < fs.Min || int64(len(b)) > fs.Max {
			v.fail(ErrRange, key, int(r.start), "more than "+strconv.FormatInt(fs.Max, 10)+" digits")
			return
		}
		*p = string(b)
		return
	}
	if !v.wants(key) {
		return
	}
	s := *p
	if int64(len(s)) < fs.Min || int64(len(s)) > fs.Max || !allDigits(s) {
		v.encFail(ErrFormat, key, "must be 1–"+strconv.FormatInt(fs.Max, 10)+" digits")
		return
	}
	v.key(key)
	if v.e.q.NumericIMEI {
		v.e.buf = append(v.e.buf, s...)
	} else {
		v.e.buf = append(append(append(v.e.buf, '"'), s...), '"')
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func vGPS(v *visitor, key byte, p *GPS) {
	fs := v.spec1(key)
	if fs == nil {
		return
	}
	if v.dec {
		r, ok := v.take(key, fs)
		if !ok {
			return
		}
		g, err := parseGPS(v.p[r.start:r.end])
		if err != nil {
			if v.err == nil {
				err.Code = v.spec.Code
				err.Offset += int(r.start)
				v.err = err
			}
			return
		}
		*p = g
		return
	}
	if !v.wants(key) {
		return
	}
	if err := p.Validate(); err != nil {
		v.encFail(ErrRange, key, err.Error())
		return
	}
	v.key(key)
	if !v.e.q.UnquotedStrings {
		v.e.buf = append(v.e.buf, '"')
	}
	v.e.buf = appendGPS(v.e.buf, *p, v.e.q.ShortGPS)
	if !v.e.q.UnquotedStrings {
		v.e.buf = append(v.e.buf, '"')
	}
}

func vHex(v *visitor, key byte, p *[]byte) {
	fs := v.spec1(key)
	if fs == nil {
		return
	}
	if v.dec {
		r, ok := v.take(key, fs)
		if !ok {
			return
		}
		b := trimSpace(v.p[r.start:r.end])
		if len(b)%2 != 0 {
			v.fail(ErrFormat, key, int(r.start), "odd number of hex digits")
			return
		}
		if int64(len(b)/2) < fs.Min || int64(len(b)/2) > fs.Max {
			v.fail(ErrRange, key, int(r.start), "data length outside "+strconv.FormatInt(fs.Min, 10)+"–"+strconv.FormatInt(fs.Max, 10)+" bytes")
			return
		}
		out := make([]byte, len(b)/2)
		for i := range out {
			hi, lo := unhex(b[2*i]), unhex(b[2*i+1])
			if hi < 0 || lo < 0 {
				v.fail(ErrFormat, key, int(r.start)+2*i, "not a hex digit")
				return
			}
			out[i] = byte(hi<<4 | lo)
		}
		*p = out
		return
	}
	if !v.wants(key) {
		return
	}
	if int64(len(*p)) < fs.Min || int64(len(*p)) > fs.Max {
		v.encFail(ErrRange, key, "data length outside "+strconv.FormatInt(fs.Min, 10)+"–"+strconv.FormatInt(fs.Max, 10)+" bytes")
		return
	}
	v.key(key)
	v.e.buf = append(v.e.buf, '"')
	const digits = "0123456789abcdef"
	for _, c := range *p {
		v.e.buf = append(v.e.buf, digits[c>>4], digits[c&15])
	}
	v.e.buf = append(v.e.buf, '"')
}

// appendEscaped writes s as a standard JSON string.
func appendEscaped(dst []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// bareSafe reports whether s, written unquoted, is read back unchanged:
// non-empty, not null, no surrounding blanks, no byte that starts a string or nested
// value, no '}' and no comma that looks like the start of the next member.
func bareSafe(s string) bool {
	if len(s) == 0 || s == "null" || isSpace(s[0]) || isSpace(s[len(s)-1]) || s[0] == '"' || s[0] == '{' || s[0] == '[' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '}' || c == '\\' || c == 0x7f {
			return false
		}
		if c == ',' && (i+1 >= len(s) || afterCommaIn(s[i+1:])) {
			return false
		}
	}
	return true
}

// rawSafe reports whether s, written between quotes without escaping, is
// read back unchanged: no backslash or control byte, and no inner quote that
// the scanner could take for the closing one.
func rawSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '\\' {
			return false
		}
		if c == '"' {
			rest := s[i+1:]
			j := 0
			for j < len(rest) && isSpace(rest[j]) {
				j++
			}
			// At the end of s the closing quote follows, so that is safe.
			if j < len(rest) && (rest[j] == '}' || rest[j] == ',' && afterCommaIn(rest[j+1:])) {
				return false
			}
		}
	}
	return true
}

// afterCommaIn is afterComma on the bytes after a comma inside a string
// value. A lookahead that runs off the end of s meets ',' or '}' of the real
// payload and so fails, as it does on s alone, except when only blanks are
// left: then the payload's '}' or ',' decides, so that case counts as unsafe.
func afterCommaIn(s string) bool {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i == len(s) {
		return true
	}
	return afterComma([]byte(s), 0)
}
