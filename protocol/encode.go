package protocol

import "strconv"

// Quirks select the vendor's deviations from JSON when encoding, so that a
// simulator can speak PROTOCOL.md byte for byte. The zero value is the
// normal form. Every quirk is applied only where Decode is guaranteed to
// read the value back unchanged; elsewhere the normal form is written.
type Quirks struct {
	// UnquotedStrings writes string values (and "i", "g") without quotes:
	// {"a":101,"u":18.180.156.177:1883:user:pass:}.
	UnquotedStrings bool
	// RawQuotes writes quotes inside strings unescaped:
	// {"a":53,"z":"AT+QICSGP=15,1,"apn","user","pass",0"}. Commands always
	// use this form (it is what the firmware expects).
	RawQuotes bool
	// TrailingComma adds a comma after the last member: {"a":14,...,"s":0,}.
	TrailingComma bool
	// NumericIMEI writes IMEIs (25's h, 22's m) as JSON numbers.
	NumericIMEI bool
	// Decimals writes integer fields and integral floats with ".0" (37.0).
	Decimals bool
	// EmptyValues lists fields that, when not in Header.Present, are written
	// with no value instead of being left out: {"a":102,"i":"12AB","s":} is
	// Quirks{EmptyValues: FieldMask(0).With('s')} on a reply without s.
	EmptyValues FieldMask
	// ShortGPS writes "g" with three elements when the location type is 0,
	// as in the sheet's example "3020.5887,12006.4229,1".
	ShortGPS bool
}

// Packet is an encoded message ready for MQTT.
type Packet struct {
	Topic   string
	QoS     byte
	Payload []byte
}

// EncodeCommand encodes c for vehicle v in the form the firmware expects
// (compact, "a" first, then the fields in registry order, strings quoted
// and not escaped): {"a":13,"k":2020}. Topic is the vehicle number, QoS the
// registry's.
func EncodeCommand(v VehicleID, c Command) (Packet, error) {
	return EncodeCommandQuirks(v, c, Quirks{})
}

// EncodeCommandQuirks is EncodeCommand with quirks, e.g. UnquotedStrings to
// reproduce the sheet's literal {"a":101,"u":host:1883:user:pass:} should a
// firmware need it.
func EncodeCommandQuirks(v VehicleID, c Command, q Quirks) (Packet, error) {
	if err := checkVehicleID(string(v)); err != nil {
		return Packet{}, asValidation(err)
	}
	if c == nil {
		return Packet{}, &ValidationError{Kind: ErrUnknownCode, Msg: "nil command"}
	}
	p, err := appendMessage(make([]byte, 0, 32), c, q)
	if err != nil {
		return Packet{}, err
	}
	return Packet{Topic: string(v), QoS: specFor(c.Code()).QoS, Payload: p}, nil
}

// AppendCommand appends c's payload (as EncodeCommandQuirks) to dst.
func AppendCommand(dst []byte, c Command, q Quirks) ([]byte, error) {
	if c == nil {
		return dst, &ValidationError{Kind: ErrUnknownCode, Msg: "nil command"}
	}
	return appendMessage(dst, c, q)
}

// EncodeReport encodes a scooter→server message with its registry topic
// (bike, o, or the vehicle topic for 78) and QoS. The sender is r's
// Header.From; only the fields in Header.Present are written (all when it
// is zero). A simulator may publish the packet on another topic to play the
// "reply on an unexpected topic" quirk.
func EncodeReport(r Report, q Quirks) (Packet, error) {
	if r == nil {
		return Packet{}, &ValidationError{Kind: ErrUnknownCode, Msg: "nil report"}
	}
	p, err := appendMessage(make([]byte, 0, 64), r, q)
	if err != nil {
		return Packet{}, err
	}
	s := specFor(r.Code())
	return Packet{Topic: s.Topic.Name(r.Vehicle()), QoS: s.QoS, Payload: p}, nil
}

// AppendReport appends r's payload (as EncodeReport) to dst.
func AppendReport(dst []byte, r Report, q Quirks) ([]byte, error) {
	if r == nil {
		return dst, &ValidationError{Kind: ErrUnknownCode, Msg: "nil report"}
	}
	return appendMessage(dst, r, q)
}

func appendMessage(dst []byte, m Message, q Quirks) ([]byte, error) {
	code := m.Code()
	s := specFor(code)
	if s == nil {
		return dst, &ValidationError{Kind: ErrUnknownCode, Code: code, Msg: "no such code"}
	}
	start := len(dst)
	v := visitor{spec: s, e: &encoder{buf: dst, q: q}}
	v.e.buf = append(v.e.buf, `{"a":`...)
	v.e.buf = strconv.AppendInt(v.e.buf, int64(code), 10)
	if r, ok := m.(Report); ok {
		h := r.header()
		v.e.emit = h.Present
		if v.e.emit == 0 || v.e.emit.Has('i') {
			if err := checkVehicleID(string(h.From)); err != nil {
				return dst, &ValidationError{Kind: ErrFormat, Code: code, Field: "i", Msg: err.Msg}
			}
			v.key('i')
			if q.UnquotedStrings && bareSafe(string(h.From)) {
				v.e.buf = append(v.e.buf, h.From...)
			} else {
				v.e.buf = append(append(append(v.e.buf, '"'), h.From...), '"')
			}
		} else if q.EmptyValues.Has('i') {
			v.key('i')
		}
	} else {
		v.e.cmd = true
	}
	visitConcrete(m, &v)
	if v.e.err != nil {
		return dst, v.e.err
	}
	if q.TrailingComma {
		v.e.buf = append(v.e.buf, ',')
	}
	v.e.buf = append(v.e.buf, '}')
	if len(v.e.buf)-start > MaxPayload {
		return dst, &ValidationError{Kind: ErrTooLarge, Code: code,
			Msg: "encoded message is " + strconv.Itoa(len(v.e.buf)-start) + " bytes, more than MaxPayload"}
	}
	return v.e.buf, nil
}
