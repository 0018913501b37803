package protocol

import (
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
)

// speedLimitBase: 13's k is 2000 + km/h.
const speedLimitBase = 2000

// MaxSpeedLimitKMH is the highest speed limit 13 can set.
const MaxSpeedLimitKMH = 30

// NewSetSpeedLimit builds 13 for a limit of kmh (0–30; 0 stops the scooter).
func NewSetSpeedLimit(kmh int) (*SetSpeedLimit, error) {
	return validated(&SetSpeedLimit{KMH: kmh})
}

// NewStartUpgrade builds 23 announcing packages 1024-byte packages (> 0).
func NewStartUpgrade(packages int) (*StartUpgrade, error) {
	return validated(&StartUpgrade{Packages: packages})
}

// NewFirmwarePackage builds 67: package serial (0–65535) with 1–1024 bytes of data.
// The data is copied.
func NewFirmwarePackage(serial int, data []byte) (*FirmwarePackage, error) {
	return validated(&FirmwarePackage{Serial: serial, Data: append([]byte(nil), data...)})
}

// NewSetServerParamsLegacy builds the deprecated 33 (prefer NewSetServerParams).
func NewSetServerParamsLegacy(ip string, port int, vehicle string, gpsInterval, heartbeatInterval, heartbeatRetries int) (*SetServerParamsLegacy, error) {
	return validated(&SetServerParamsLegacy{IP: ip, Port: port, Vehicle: vehicle,
		GPSInterval: gpsInterval, HeartbeatInterval: heartbeatInterval, HeartbeatRetries: heartbeatRetries})
}

// NewSetHeadlight builds 37 (works only in lamp mode command control).
func NewSetHeadlight(on bool) *SetHeadlight { return &SetHeadlight{On: on} }

// NewSetVibration builds 39: 0 alarm off, 1–99 (bigger = less sensitive).
func NewSetVibration(sensitivity int) (*SetVibration, error) {
	return validated(&SetVibration{Sensitivity: sensitivity})
}

// NewSetDistanceUnit builds 41 (only while powered off).
func NewSetDistanceUnit(u DistanceUnit) (*SetDistanceUnit, error) {
	return validated(&SetDistanceUnit{Unit: u})
}

// NewSetLampMode builds 43 (only while powered on).
func NewSetLampMode(m LampMode) (*SetLampMode, error) {
	return validated(&SetLampMode{Mode: m})
}

// NewSetAssistLevel builds 49: level 0–2.
func NewSetAssistLevel(level int) (*SetAssistLevel, error) {
	return validated(&SetAssistLevel{Level: level})
}

// NewSetAPN builds 53. apn: 1–63 characters; user and password: 0–63
// (empty allowed); all printable ASCII without '"', ',' and '\'.
func NewSetAPN(apn, user, password string) (*SetAPN, error) {
	return validated(&SetAPN{APN: apn, User: user, Password: password})
}

// NewSpecialBuzzer builds 58: rings 1–255, ringMS 1–65535, silenceMS 0–65535.
func NewSpecialBuzzer(rings, ringMS, silenceMS int) (*SpecialBuzzer, error) {
	return validated(&SpecialBuzzer{Rings: rings, RingMS: ringMS, SilenceMS: silenceMS})
}

// NewSetServerParams builds 101. host: 1–253 of [A-Za-z0-9.-]; port 1–65535;
// user, password: 0–64 printable ASCII without blanks and ':' ',' '"' '\' '{' '}'.
func NewSetServerParams(host string, port int, user, password string) (*SetServerParams, error) {
	return validated(&SetServerParams{Host: host, Port: port, User: user, Password: password})
}

// NewSetSerialNumber builds 103: serial 1–32 of [A-Za-z0-9_.-].
func NewSetSerialNumber(serial string) (*SetSerialNumber, error) {
	return validated(&SetSerialNumber{Serial: serial})
}

func validated[T Message](m T) (T, error) {
	if err := Validate(m); err != nil {
		var zero T
		return zero, err
	}
	return m, nil
}

// Validate checks every field of m against the registry (ranges, lengths,
// string shapes) without producing output. It returns a *ValidationError.
func Validate(m Message) error {
	if m == nil {
		return &ValidationError{Kind: ErrUnknownCode, Msg: "nil message"}
	}
	_, err := appendMessage(nil, m, Quirks{})
	return err
}

// NewCommand builds any command from its code and a field map keyed by the
// wire keys of the registry, e.g. NewCommand(13, map[string]any{"k": 2020}).
// Values: Go integers, float64/float32 with no fraction for int fields,
// json.Number, numeric strings, bool (1/0) for int fields; strings for string,
// digit and GPS fields; hex strings or []byte for 67's d. "a" may be given
// and must equal code. This is what the admin API's "send any protocol
// command" uses; JSON bodies can also go straight to DecodeCommand.
func NewCommand(code Code, fields map[string]any) (Command, error) {
	s := specFor(code)
	if s == nil {
		return nil, invalid(ErrUnknownCode, code, "a", "no such code")
	}
	if s.Direction != ToScooter {
		return nil, invalid(ErrDirection, code, "a", "not a command (scooter→server message)")
	}
	for k, val := range fields {
		if k == "a" {
			if n, ok := toInt(val); !ok || n != int64(code) {
				return nil, invalid(ErrRange, code, "a", "differs from the code")
			}
			continue
		}
		if len(k) != 1 || s.field(k[0]) == nil {
			return nil, invalid(ErrUnknownField, code, k, "%s has no field %q", s.Name, k)
		}
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"a":`...)
	buf = strconv.AppendInt(buf, int64(code), 10)
	for i := range s.Fields {
		fs := &s.Fields[i]
		val, ok := fields[fs.Key]
		if !ok || val == nil {
			return nil, invalid(ErrMissingField, code, fs.Key, "required")
		}
		buf = append(buf, ',', '"', fs.Key[0], '"', ':')
		var err error
		if buf, err = appendAny(buf, fs, code, val); err != nil {
			return nil, err
		}
	}
	buf = append(buf, '}')
	c, err := DecodeCommand(buf)
	if err != nil {
		return nil, asValidation(err)
	}
	return c, nil
}

// NewMessage returns a zero value of the type of code (e.g. *Heartbeat for
// 27), for code that builds messages generically, such as a simulator
// answering a command with its ExpectedReply.
func NewMessage(code Code) (Message, bool) {
	m := newMessage(code)
	return m, m != nil
}

// NewReport builds any scooter→server message from its code, the sender and
// a field map keyed by wire keys (values as for NewCommand). Fields left out
// are absent (not in Header.Present). Errors are *ValidationError.
func NewReport(code Code, from VehicleID, fields map[string]any) (Report, error) {
	s := specFor(code)
	if s == nil {
		return nil, invalid(ErrUnknownCode, code, "a", "no such code")
	}
	if s.Direction != FromScooter {
		return nil, invalid(ErrDirection, code, "a", "not a scooter→server message")
	}
	if err := checkVehicleID(string(from)); err != nil {
		return nil, asValidation(err)
	}
	for k := range fields {
		if len(k) != 1 || s.field(k[0]) == nil {
			return nil, invalid(ErrUnknownField, code, k, "%s has no field %q", s.Name, k)
		}
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"a":`...)
	buf = strconv.AppendInt(buf, int64(code), 10)
	buf = append(buf, `,"i":"`...)
	buf = append(buf, from...)
	buf = append(buf, '"')
	for i := range s.Fields {
		fs := &s.Fields[i]
		val, ok := fields[fs.Key]
		if !ok || val == nil {
			continue
		}
		buf = append(buf, ',', '"', fs.Key[0], '"', ':')
		var err error
		if buf, err = appendAny(buf, fs, code, val); err != nil {
			return nil, err
		}
	}
	buf = append(buf, '}')
	m, err := Decode(string(from), buf)
	if err != nil {
		return nil, asValidation(err)
	}
	r, ok := m.(Report)
	if !ok {
		return nil, invalid(ErrDirection, code, "a", "not a report")
	}
	return r, nil
}

func toInt(val any) (int64, bool) {
	switch x := val.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	case float32:
		return toInt(float64(x))
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case Code:
		return int64(x), true
	}
	return 0, false
}

// appendAny writes one NewCommand value as a JSON token that the tolerant
// decoder will validate. Strings are always escaped, so no value can inject
// another field.
func appendAny(buf []byte, fs *FieldSpec, code Code, val any) ([]byte, error) {
	switch fs.Type {
	case FieldInt, FieldFloat:
		if n, ok := toInt(val); ok {
			return strconv.AppendInt(buf, n, 10), nil
		}
		switch x := val.(type) {
		case float64:
			if fs.Type == FieldFloat && !math.IsNaN(x) && !math.IsInf(x, 0) {
				return strconv.AppendFloat(buf, x, 'f', -1, 64), nil
			}
		case interface{ String() string }: // json.Number and friends
			return appendEscaped(buf, x.String()), nil
		case string:
			return appendEscaped(buf, x), nil
		}
		return nil, invalid(ErrType, code, fs.Key, "want a number, got %T", val)
	case FieldHex:
		switch x := val.(type) {
		case []byte:
			buf = append(buf, '"')
			buf = hex.AppendEncode(buf, x)
			return append(buf, '"'), nil
		case string:
			return appendEscaped(buf, x), nil
		}
		return nil, invalid(ErrType, code, fs.Key, "want hex string or []byte, got %T", val)
	default:
		if x, ok := val.(string); ok {
			return appendEscaped(buf, x), nil
		}
		return nil, invalid(ErrType, code, fs.Key, "want a string, got %T", val)
	}
}

// ---- structured strings ----

// roundTrips reports whether the typed value c survives its wire string
// (e.g. a host containing ':' would not).
func roundTrips[T comparable](c *T, wire string, parse func(string) (T, error)) bool {
	p, err := parse(wire)
	return err == nil && p == *c
}

func formatMsg(err error) string {
	if err == nil {
		return "fields do not survive the wire format"
	}
	return err.Error()
}

func (c *SetServerParams) wire() string {
	return c.Host + ":" + strconv.Itoa(c.Port) + ":" + c.User + ":" + c.Password + ":"
}

// parseServerParams parses "host:port:user:password:" (the final colon may be missing).
func parseServerParams(s string) (SetServerParams, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 5 && parts[4] == "" {
		parts = parts[:4]
	}
	if len(parts) != 4 {
		return SetServerParams{}, errors.New(`want "host:port:username:password:"`)
	}
	if err := checkHost(parts[0]); err != nil {
		return SetServerParams{}, err
	}
	port, err := parsePort(parts[1])
	if err != nil {
		return SetServerParams{}, err
	}
	for _, cred := range parts[2:] {
		if err := checkCred(cred); err != nil {
			return SetServerParams{}, err
		}
	}
	return SetServerParams{Host: parts[0], Port: port, User: parts[2], Password: parts[3]}, nil
}

func (c *SetServerParamsLegacy) wire() string {
	return c.IP + "," + strconv.Itoa(c.Port) + "," + c.Vehicle + "," + strconv.Itoa(c.GPSInterval) + "," +
		strconv.Itoa(c.HeartbeatInterval) + "," + strconv.Itoa(c.HeartbeatRetries)
}

// parseLegacyServerParams parses "ip,port,vehicle,gps s,heartbeat s,retries".
func parseLegacyServerParams(s string) (SetServerParamsLegacy, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 6 {
		return SetServerParamsLegacy{}, errors.New("want ip,port,vehicle number,GPS interval,heartbeat interval,heartbeat retries")
	}
	if err := checkHost(parts[0]); err != nil {
		return SetServerParamsLegacy{}, err
	}
	port, err := parsePort(parts[1])
	if err != nil {
		return SetServerParamsLegacy{}, err
	}
	if checkVehicleID(parts[2]) != nil {
		return SetServerParamsLegacy{}, errors.New("vehicle number: 1–32 of A-Z a-z 0-9 _ -")
	}
	var n [3]int
	for i, lim := range [3]int{65535, 65535, 255} {
		v, err := parseSmall(parts[3+i], 1, lim)
		if err != nil {
			return SetServerParamsLegacy{}, errors.New([3]string{"GPS interval", "heartbeat interval", "heartbeat retries"}[i] + ": " + err.Error())
		}
		n[i] = v
	}
	return SetServerParamsLegacy{IP: parts[0], Port: port, Vehicle: parts[2],
		GPSInterval: n[0], HeartbeatInterval: n[1], HeartbeatRetries: n[2]}, nil
}

func (c *SetSerialNumber) wire() string { return c.Serial + ":" }

// parseSerialNumber parses "SN:" (the colon may be missing).
func parseSerialNumber(s string) (SetSerialNumber, error) {
	s = strings.TrimSuffix(s, ":")
	if len(s) == 0 || len(s) > 32 {
		return SetSerialNumber{}, errors.New("serial number: 1–32 characters")
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) && s[i] != '.' {
			return SetSerialNumber{}, errors.New("serial number: only A-Z a-z 0-9 _ . -")
		}
	}
	return SetSerialNumber{Serial: s}, nil
}

const apnPrefix, apnSuffix = `AT+QICSGP=15,1,"`, `",0`

func (c *SetAPN) wire() string {
	return apnPrefix + c.APN + `","` + c.User + `","` + c.Password + apnSuffix
}

// parseAPN parses AT+QICSGP=15,1,"apn","user","password",0.
func parseAPN(s string) (SetAPN, error) {
	if !strings.HasPrefix(s, apnPrefix) || !strings.HasSuffix(s, apnSuffix) || len(s) < len(apnPrefix)+len(apnSuffix) {
		return SetAPN{}, errors.New(`want AT+QICSGP=15,1,"apn","user","password",0`)
	}
	parts := strings.Split(s[len(apnPrefix):len(s)-len(apnSuffix)], `","`)
	if len(parts) != 3 {
		return SetAPN{}, errors.New(`want AT+QICSGP=15,1,"apn","user","password",0`)
	}
	for i, p := range parts {
		lo := 0
		if i == 0 {
			lo = 1
		}
		if len(p) < lo || len(p) > 63 {
			return SetAPN{}, errors.New([3]string{"apn", "user", "password"}[i] + ": length outside " + strconv.Itoa(lo) + "–63")
		}
		for j := 0; j < len(p); j++ {
			if c := p[j]; c < 0x20 || c > 0x7e || c == '"' || c == ',' || c == '\\' {
				return SetAPN{}, errors.New([3]string{"apn", "user", "password"}[i] + `: printable ASCII without '"' ',' '\'`)
			}
		}
	}
	return SetAPN{APN: parts[0], User: parts[1], Password: parts[2]}, nil
}

func checkHost(h string) error {
	if len(h) == 0 || len(h) > 253 {
		return errors.New("host: 1–253 characters")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return errors.New("host: only A-Z a-z 0-9 . -")
		}
	}
	return nil
}

func checkCred(s string) error {
	if len(s) > 64 {
		return errors.New("username/password: at most 64 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c > 0x7e || strings.IndexByte(`:,"\{}`, c) >= 0 {
			return errors.New(`username/password: printable ASCII without blanks and : , " \ { }`)
		}
	}
	return nil
}

func parsePort(s string) (int, error) {
	p, err := parseSmall(s, 1, 65535)
	if err != nil {
		return 0, errors.New("port: " + err.Error())
	}
	return p, nil
}

// parseSmall parses 1–5 decimal digits within [lo, hi].
func parseSmall(s string, lo, hi int) (int, error) {
	if len(s) == 0 || len(s) > 5 || !allDigits(s) {
		return 0, errors.New("want 1–5 digits")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n < lo || n > hi {
		return 0, errors.New("valid range " + strconv.Itoa(lo) + "–" + strconv.Itoa(hi))
	}
	return n, nil
}
