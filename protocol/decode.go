package protocol

// Decode decodes any message published on topic: a scooter→server message
// on "bike", "o" or a vehicle topic (replies are accepted on any of them),
// or a server→scooter command on a vehicle topic. The result is one of the
// message types (*Heartbeat, *GPSReport, *SetSpeedLimit, ...); scooter
// messages implement Report. Errors are *DecodeError. Decode never panics
// and does work linear in len(payload), which is capped at MaxPayload.
//
// The sender of a scooter message is "i"; on a vehicle topic "i" may be
// absent (78) and, if present, must equal the topic.
func Decode(topic string, payload []byte) (Message, error) {
	return decode(topic, payload, nil)
}

// Decoder decodes like Decode but reuses its own values for the two
// high-volume messages, heartbeat (27) and GPS report (19), and the last
// sender's vehicle number, so a gateway decoding a stream from one connection
// allocates nothing in the steady state. A *Heartbeat or *GPSReport it
// returns is only valid until the next call (copy it to keep it); other
// messages are freshly allocated as by Decode. A Decoder is not safe for
// concurrent use: keep one per connection or goroutine. The zero value is
// ready to use.
type Decoder struct {
	hb   Heartbeat
	gps  GPSReport
	from VehicleID
}

// Decode decodes one payload; see the type's documentation.
func (d *Decoder) Decode(topic string, payload []byte) (Message, error) {
	return decode(topic, payload, d)
}

func decode(topic string, payload []byte, d *Decoder) (Message, error) {
	if len(payload) > MaxPayload {
		return nil, &DecodeError{Kind: ErrTooLarge, Offset: MaxPayload, Msg: "payload larger than MaxPayload"}
	}
	onVehicle := false
	switch topic {
	case TopicNameBike, TopicNameO:
	default:
		if checkVehicleID(topic) != nil {
			return nil, &DecodeError{Kind: ErrTopic, Offset: -1, Msg: "topic is neither bike, o nor a vehicle number"}
		}
		onVehicle = true
	}
	v := visitor{dec: true, p: payload}
	if err := scanObject(payload, &v.obj); err != nil {
		return nil, err
	}
	s, err := codeOf(payload, &v.obj)
	if err != nil {
		return nil, err
	}
	var h Header
	if s.Direction == ToScooter {
		if !onVehicle {
			return nil, &DecodeError{Kind: ErrDirection, Code: s.Code, Field: "a", Offset: int(v.obj.v[0].start),
				Msg: "command code on a shared topic"}
		}
	} else {
		h.Present = FieldMask(0).With('a')
		r := v.obj.v[keyIndex('i')]
		switch {
		case r.flags&rvPresent != 0 && !r.empty() && r.start != r.end:
			b := trimSpace(payload[r.start:r.end])
			if !checkVehicleIDBytes(b) {
				return nil, &DecodeError{Kind: ErrFormat, Code: s.Code, Field: "i", Offset: int(r.start),
					Msg: "vehicle number: 1–32 of A-Z a-z 0-9 _ -, not bike/o"}
			}
			switch {
			case onVehicle:
				if string(b) != topic {
					return nil, &DecodeError{Kind: ErrTopic, Code: s.Code, Field: "i", Offset: int(r.start),
						Msg: "vehicle number differs from the topic"}
				}
				h.From = VehicleID(topic)
			case d != nil && string(b) == string(d.from):
				h.From = d.from
			default:
				h.From = VehicleID(b)
				if d != nil {
					d.from = h.From
				}
			}
			h.Present = h.Present.With('i')
		case onVehicle:
			h.From = VehicleID(topic)
		default:
			return nil, &DecodeError{Kind: ErrMissingField, Code: s.Code, Field: "i", Offset: -1,
				Msg: "vehicle number required on a shared topic"}
		}
	}
	v.spec = s
	if d != nil {
		switch s.Code {
		case CodeHeartbeat:
			d.hb = Heartbeat{Header: h}
			d.hb.visit(&v)
			d.hb.Present |= v.present
			if v.err != nil {
				return nil, v.err
			}
			return &d.hb, nil
		case CodeGPSReport:
			d.gps = GPSReport{Header: h}
			d.gps.visit(&v)
			d.gps.Present |= v.present
			if v.err != nil {
				return nil, v.err
			}
			return &d.gps, nil
		}
	}
	m := decodeFields(s.Code, &v, h)
	if v.err != nil {
		return nil, v.err
	}
	return m, nil
}

// DecodeCommand decodes a server→scooter payload (what a scooter receives on
// its topic, or an admin's JSON). All command fields are required and
// validated against the registry. Errors are *DecodeError.
func DecodeCommand(payload []byte) (Command, error) {
	if len(payload) > MaxPayload {
		return nil, &DecodeError{Kind: ErrTooLarge, Offset: MaxPayload, Msg: "payload larger than MaxPayload"}
	}
	v := visitor{dec: true, p: payload}
	if err := scanObject(payload, &v.obj); err != nil {
		return nil, err
	}
	s, err := codeOf(payload, &v.obj)
	if err != nil {
		return nil, err
	}
	if s.Direction != ToScooter {
		return nil, &DecodeError{Kind: ErrDirection, Code: s.Code, Field: "a", Offset: int(v.obj.v[0].start),
			Msg: "not a command code"}
	}
	v.spec = s
	m := decodeFields(s.Code, &v, Header{})
	if v.err != nil {
		return nil, v.err
	}
	c, ok := m.(Command)
	if !ok { // unreachable: direction checked above
		return nil, &DecodeError{Kind: ErrDirection, Code: s.Code, Field: "a", Offset: -1, Msg: "not a command"}
	}
	return c, nil
}

// codeOf reads "a" and looks it up.
func codeOf(p []byte, obj *rawObject) (*Spec, *DecodeError) {
	r := obj.v[0] // 'a'
	if r.flags&rvPresent == 0 || r.empty() || r.start == r.end {
		off := -1
		if r.flags&rvPresent != 0 {
			off = int(r.key)
		}
		return nil, &DecodeError{Kind: ErrMissingField, Field: "a", Offset: off, Msg: "message code required"}
	}
	if r.flags&rvNested != 0 {
		return nil, &DecodeError{Kind: ErrType, Field: "a", Offset: int(r.start), Msg: "object or array where the code is expected"}
	}
	n, kind, msg := parseIntBytes(p[r.start:r.end])
	if kind != 0 {
		return nil, &DecodeError{Kind: kind, Field: "a", Offset: int(r.start), Msg: msg}
	}
	s := specFor(Code(min(max(n, 0), 1<<16)))
	if s == nil {
		return nil, &DecodeError{Kind: ErrUnknownCode, Field: "a", Offset: int(r.start), Msg: "not a code of PROTOCOL.md"}
	}
	return s, nil
}
