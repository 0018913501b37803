package protocol

import (
	"math"
	"slices"
)

// FieldType is the wire type of a field.
type FieldType uint8

// Field types.
const (
	FieldInt    FieldType = iota + 1 // integer; decimals with a zero fraction (12.0) are tolerated
	FieldFloat                       // number with optional decimals (e.g. r, battery voltage)
	FieldString                      // text; may arrive unquoted or with unescaped quotes
	FieldDigits                      // digit string (IMEI); may arrive as a JSON number, kept exact
	FieldGPS                         // "lat,lon,business_type,location_type" in NMEA ddmm.mmmm
	FieldHex                         // binary data carried as a hex string (67's d)
)

var fieldTypeNames = [...]string{FieldInt: "int", FieldFloat: "float", FieldString: "string",
	FieldDigits: "digits", FieldGPS: "gps", FieldHex: "hex"}

func (t FieldType) String() string {
	if int(t) < len(fieldTypeNames) && fieldTypeNames[t] != "" {
		return fieldTypeNames[t]
	}
	return "invalid"
}

// MarshalText renders the type for JSON/admin UIs.
func (t FieldType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// StringFormat names the documented shape of a FieldString value.
type StringFormat uint8

// String formats.
const (
	FormatText               StringFormat = iota // free text
	FormatServerParams                           // 101: "host:port:username:password:"
	FormatLegacyServerParams                     // 33: "ip,port,vehicle number,GPS interval s,heartbeat interval s,heartbeat retries"
	FormatSerialNumber                           // 103: "SN:"
	FormatAPN                                    // 53: AT+QICSGP=15,1,"apn","user","password",0
)

var formatNames = [...]string{"text", "server-params", "legacy-server-params", "serial-number", "apn"}

func (f StringFormat) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "invalid"
}

// MarshalText renders the format for JSON/admin UIs.
func (f StringFormat) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// FieldSpec describes one field of a message (besides "a", and "i" on
// scooter→server messages, which every message has implicitly).
type FieldSpec struct {
	Key     string       // JSON key, one letter ("k", "L")
	Name    string       // short name, e.g. "speed_limit"
	Meaning string       // from PROTOCOL.md
	Type    FieldType    //
	Unit    string       // "km/h", "s", "V", "%", "ms", ... ("" if none)
	Min     int64        // numeric types: smallest valid value; strings/digits/hex: minimum length
	Max     int64        // numeric types: largest valid value; strings/digits/hex: maximum length (bytes)
	Format  StringFormat // FieldString only
	// Required: the message is invalid without it. All command fields are
	// required; reply/report fields are optional (presence is recorded in
	// Header.Present) because the firmware omits and empties fields.
	Required bool
}

// Spec is the registry entry of one message code.
type Spec struct {
	Code      Code
	Name      string
	Direction Direction
	Topic     TopicKind // where it is published (replies may also arrive elsewhere)
	QoS       byte
	// Reply is the expected reply code of a command (HasReply false for 20, 28, 58, 93).
	Reply    Code
	HasReply bool
	// ReplyTo is the command a reply answers (0 for commands and unsolicited reports).
	ReplyTo     Code
	Unsolicited bool // sent by the scooter on its own (19 also answers 18)
	Deprecated  bool // 33, replaced by 101
	Removed     bool // 55, 57: gone from the latest firmware, still accepted
	Fields      []FieldSpec
	Note        string

	keyIdx [numKeys]uint8 // keyIndex → index in Fields + 1 (0: none)
}

// Field returns the spec of the field with the given key.
func (s *Spec) Field(key string) (FieldSpec, bool) {
	for i := range s.Fields {
		if s.Fields[i].Key == key {
			return s.Fields[i], true
		}
	}
	return FieldSpec{}, false
}

func (s *Spec) field(key byte) *FieldSpec {
	k := keyIndex(key)
	if k < 0 || s.keyIdx[k] == 0 {
		return nil
	}
	return &s.Fields[s.keyIdx[k]-1]
}

// Lookup returns the registry entry of a code. The returned Spec is a copy.
func Lookup(c Code) (Spec, bool) {
	s := specFor(c)
	if s == nil {
		return Spec{}, false
	}
	return cloneSpec(s), true
}

// Specs returns every registry entry ordered by code (copies).
func Specs() []Spec {
	out := make([]Spec, 0, len(registry))
	for i := range registry {
		out = append(out, cloneSpec(&registry[i]))
	}
	return out
}

// ExpectedReply returns the code of the reply a command expects
// (false for non-commands and for 20, 28, 58, 93 that have none).
func ExpectedReply(c Code) (Code, bool) {
	s := specFor(c)
	if s == nil || s.Direction != ToScooter || !s.HasReply {
		return 0, false
	}
	return s.Reply, true
}

// ReplyTo returns the command a reply code answers (19 answers 18 as well as
// being unsolicited). False for commands and pure reports.
func ReplyTo(c Code) (Code, bool) {
	s := specFor(c)
	if s == nil || s.ReplyTo == 0 {
		return 0, false
	}
	return s.ReplyTo, true
}

func cloneSpec(s *Spec) Spec {
	c := *s
	c.Fields = slices.Clone(s.Fields)
	return c
}

// registryIndex maps a code to its index in registry (+1; 0 = unknown).
var registryIndex [256]uint8

func specFor(c Code) *Spec {
	if c <= 0 || int(c) >= len(registryIndex) {
		return nil
	}
	i := registryIndex[c]
	if i == 0 {
		return nil
	}
	return &registry[i-1]
}

func init() {
	slices.SortFunc(registry, func(a, b Spec) int { return int(a.Code - b.Code) })
	for i := range registry {
		s := &registry[i]
		registryIndex[s.Code] = uint8(i + 1)
		for j := range s.Fields {
			s.keyIdx[keyIndex(s.Fields[j].Key[0])] = uint8(j + 1)
		}
	}
}

// Helpers that keep the table below readable.

func fInt(key, name, meaning, unit string, lo, hi int64) FieldSpec {
	return FieldSpec{Key: key, Name: name, Meaning: meaning, Type: FieldInt, Unit: unit, Min: lo, Max: hi}
}

func fFloat(key, name, meaning, unit string, lo, hi int64) FieldSpec {
	return FieldSpec{Key: key, Name: name, Meaning: meaning, Type: FieldFloat, Unit: unit, Min: lo, Max: hi}
}

func fStr(key, name, meaning string, lo, hi int64, f StringFormat) FieldSpec {
	return FieldSpec{Key: key, Name: name, Meaning: meaning, Type: FieldString, Min: lo, Max: hi, Format: f}
}

func req(f FieldSpec) FieldSpec { f.Required = true; return f }

var (
	fNonce = fInt("t", "nonce", "random number on acks (a nonce, not a time)", "", math.MinInt64, math.MaxInt64)
	fSerN  = fInt("n", "serial", "serial number of the operation", "", 0, math.MaxUint32)
)

func fStatus(meaning string, hi int64) FieldSpec {
	return fInt("s", "status", meaning, "", 0, hi)
}

const (
	stOnOff   = "0 success, 1 hardware fault / failure, 2 firmware upgrading"
	stClear   = "0 success, 1 failure, 2 firmware upgrading, 3 already later than the latest shutdown time"
	stOKFail  = "0 success, 1 failure"
	stGeneric = "result: 0 success, 1 failure"
)

func cmd(c Code, name string, qos byte, fields ...FieldSpec) Spec {
	for i := range fields {
		fields[i].Required = true
	}
	return Spec{Code: c, Name: name, Direction: ToScooter, Topic: TopicVehicle, QoS: qos,
		Reply: c + 1, HasReply: true, Fields: fields}
}

func noReply(s Spec) Spec { s.Reply, s.HasReply = 0, false; return s }

func reply(c, to Code, name string, qos byte, fields ...FieldSpec) Spec {
	return Spec{Code: c, Name: name, Direction: FromScooter, Topic: TopicBike, QoS: qos, ReplyTo: to, Fields: fields}
}

func report(c Code, name string, topic TopicKind, qos byte, fields ...FieldSpec) Spec {
	return Spec{Code: c, Name: name, Direction: FromScooter, Topic: topic, QoS: qos, Unsolicited: true, Fields: fields}
}

// Maximum lengths chosen where the sheet is silent; they keep every
// legitimate message well under MaxPayload.
const (
	maxVersionLen = 64
	maxLogLen     = 1024
	maxParamsLen  = 256
	// MaxPackageData is the largest firmware package (67's d), in bytes.
	MaxPackageData = 1024
)

// registry is the protocol table, ordered by code. It is never modified after init.
var registry = []Spec{
	cmd(CodePowerOn, "power on", 0),
	reply(CodePowerOnReply, CodePowerOn, "power on reply", 1, fNonce, fStatus(stOnOff, 2), fSerN),
	cmd(CodePowerOff, "power off", 1),
	reply(CodePowerOffReply, CodePowerOff, "power off reply", 1, fNonce, fStatus(stOnOff, 2), fSerN),
	cmd(CodeClearRideMileage, "clear single-ride mileage", 0),
	reply(CodeClearRideMileageReply, CodeClearRideMileage, "clear single-ride mileage reply", 1, fNonce, fStatus(stClear, 3), fSerN),
	cmd(CodeClearRideTime, "clear single-ride time", 0),
	reply(CodeClearRideTimeReply, CodeClearRideTime, "clear single-ride time reply", 1, fNonce, fStatus(stClear, 3), fSerN),
	cmd(CodeClearTotalMileage, "clear total mileage", 0),
	reply(CodeClearTotalMileageReply, CodeClearTotalMileage, "clear total mileage reply", 1, fNonce, fStatus(stClear, 3), fSerN),
	cmd(CodeClearTotalTime, "clear total riding time", 0),
	reply(CodeClearTotalTimeReply, CodeClearTotalTime, "clear total riding time reply", 1, fNonce, fStatus(stClear, 3), fSerN),
	cmd(CodeSetSpeedLimit, "set speed limit", 1,
		fInt("k", "speed_limit", "2000 + speed limit in km/h (20 km/h → 2020)", "2000+km/h", 2000, 2030)),
	reply(CodeSetSpeedLimitReply, CodeSetSpeedLimit, "set speed limit reply", 1, fNonce, fStatus("0 ok, 1 fault", 1)),
	cmd(CodeQueryParams, "query vehicle parameters", 0),
	reply(CodeVehicleParams, CodeQueryParams, "vehicle parameters", 0,
		fStatus("status", 255),
		fInt("k", "speed_limit", "speed limit (km/h per the sheet; some firmware may report the 2000+ form, kept as sent)", "km/h", 0, 2030),
		fFloat("p", "speed", "current speed", "km/h", 0, 200),
		fInt("e", "error", "error code: 0 none, 1 hall, 2 throttle, 4 stalled, 5 over-current, 6 motor temp, 7 controller temp, 8 under-voltage, 9 over-voltage, 10 communication", "", 0, 255),
		fInt("b", "battery", "battery level", "%", 0, 100),
		fInt("y", "total_time", "total riding time", "s", 0, math.MaxUint32),
		fFloat("q", "total_mileage", "total mileage", "km", 0, 10_000_000),
		fInt("w", "ride_time", "single-ride time", "s", 0, math.MaxUint32),
		fFloat("z", "ride_mileage", "single-ride mileage", "km", 0, 10_000_000),
		fInt("c", "power", "0 powered on, 1 off", "", 0, 1)),
	cmd(CodeQueryGPS, "query GPS position", 0),
	func() Spec {
		s := report(CodeGPSReport, "GPS report", TopicBike, 1,
			FieldSpec{Key: "g", Name: "position", Meaning: "lat,lon,business_type (0 normal, 1 alarm),location_type (0 GPS, 1 LBS) in NMEA ddmm.mmmm", Type: FieldGPS, Unit: "ddmm.mmmm", Min: 0, Max: 64},
			fInt("t", "gps_time", "GPS time (unix seconds; not a nonce on this code)", "s", 0, math.MaxUint32))
		s.ReplyTo = CodeQueryGPS
		s.Note = "sent on its own whenever the module has a fix and as the reply to 18"
		return s
	}(),
	noReply(cmd(CodeReboot, "reboot IoT module", 0)),
	cmd(CodeQueryVersion, "query hardware/firmware version", 0),
	reply(CodeVersionReply, CodeQueryVersion, "version reply", 1,
		fStr("h", "hardware", "hardware version", 0, maxVersionLen, FormatText),
		fStr("f", "firmware", "firmware version", 0, maxVersionLen, FormatText),
		fStr("c", "sim", "SIM number (ICCID)", 0, 32, FormatText),
		FieldSpec{Key: "m", Name: "imei", Meaning: "IMEI (may arrive as a JSON number)", Type: FieldDigits, Min: 1, Max: 16},
		fStatus("0 powered on, 1 off", 1),
		fNonce),
	func() Spec {
		s := cmd(CodeStartUpgrade, "start firmware upgrade", 0,
			fInt("l", "packages", "number of 1024-byte packages", "", 1, 65535))
		s.Reply = CodeStartUpgradeReply
		return s
	}(),
	cmd(CodeQueryIMEI, "query IMEI", 0),
	reply(CodeIMEIReply, CodeQueryIMEI, "IMEI reply", 1,
		FieldSpec{Key: "h", Name: "imei", Meaning: "IMEI, up to 16 digits (may arrive as a JSON number)", Type: FieldDigits, Min: 1, Max: 16},
		fNonce),
	report(CodeHeartbeat, "heartbeat", TopicBike, 1,
		fInt("b", "battery", "battery level", "%", 0, 100),
		fInt("c", "power", "0 powered on, 1 off", "", 0, 1),
		fInt("s", "posture", "0 upright, 1 fallen (only meaningful when on)", "", 0, 1),
		fFloat("r", "voltage", "battery voltage (decimals although the sheet says integer)", "V", 0, 200),
		fInt("v", "vibration", "vibration sensitivity (0 off, 1–99)", "", 0, 99),
		fInt("x", "station", "1 at a charging station, 3 not at a station", "", 0, 3)),
	noReply(cmd(CodeBuzzer, "alarm buzzer", 0)),
	func() Spec {
		s := cmd(CodeSetServerParamsLegacy, "set server parameters (legacy)", 0,
			fStr("u", "params", "ip,port,vehicle number,GPS interval s,heartbeat interval s,heartbeat retries", 1, maxParamsLen, FormatLegacyServerParams))
		s.Deprecated = true
		s.Note = "deprecated, replaced by 101"
		return s
	}(),
	reply(CodeSetServerParamsLegacyReply, CodeSetServerParamsLegacy, "set server parameters (legacy) reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeQueryServerParams, "query server parameters", 0),
	reply(CodeServerParamsReply, CodeQueryServerParams, "server parameters", 1, fNonce,
		fStr("u", "params", "ip,port,username,password,vehicle number,GPS interval s", 0, maxParamsLen, FormatText)),
	cmd(CodeSetHeadlight, "headlight on/off", 0,
		fInt("d", "headlight", "0 off, 1 on (only in lamp mode command control)", "", 0, 1)),
	reply(CodeSetHeadlightReply, CodeSetHeadlight, "headlight reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeSetVibration, "vibration alarm sensitivity", 0,
		fInt("v", "sensitivity", "0 alarm off, 1–99 (bigger = less sensitive), default 25", "", 0, 99)),
	reply(CodeSetVibrationReply, CodeSetVibration, "vibration sensitivity reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeSetDistanceUnit, "km/mile display", 0,
		fInt("f", "unit", "0 km, 1 mile (only while powered off)", "", 0, 1)),
	reply(CodeSetDistanceUnitReply, CodeSetDistanceUnit, "km/mile display reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeSetLampMode, "lamp mode", 0,
		fInt("j", "mode", "0 command control, 1 always on (only while powered on)", "", 0, 1)),
	reply(CodeSetLampModeReply, CodeSetLampMode, "lamp mode reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeSetAssistLevel, "set assist level", 1,
		fInt("k", "level", "assist level", "", 0, 2)),
	reply(CodeSetAssistLevelReply, CodeSetAssistLevel, "assist level reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeSetAPN, "set cellular APN", 0,
		fStr("z", "apn", `AT+QICSGP=15,1,"apn","user","password",0 (empty user/password allowed)`, 1, 220, FormatAPN)),
	func() Spec {
		s := reply(CodeSetAPNReply, CodeSetAPN, "set APN reply", 1, fNonce, fStatus(stGeneric, 1))
		s.Topic = TopicO
		return s
	}(),
	func() Spec {
		s := report(CodeStatusParams, "status parameters", TopicO, 0,
			fInt("s", "posture", "0 upright, 1 fallen", "", 0, 1),
			fFloat("r", "voltage", "battery voltage", "V", 0, 200))
		s.Removed = true
		s.Note = "removed in the latest firmware; still accepted"
		return s
	}(),
	func() Spec {
		s := report(CodeVibrationDetected, "vibration detected", TopicO, 0,
			fInt("s", "status", "vibration status", "", 0, 255))
		s.Removed = true
		s.Note = "removed in the latest firmware; still accepted"
		return s
	}(),
	func() Spec {
		s := noReply(cmd(CodeSpecialBuzzer, "special alarm buzzer", 0,
			fInt("v", "rings", "number of rings", "", 1, 255),
			fInt("i", "ring_ms", "ring duration (NOT the vehicle id here)", "ms", 1, 65535),
			fInt("L", "silence_ms", "silence between rings", "ms", 0, 65535)))
		s.Note = "ranges chosen by fleetedge: the sheet is silent"
		return s
	}(),
	cmd(CodeBatteryUnlock, "battery compartment unlock", 0),
	reply(CodeBatteryUnlockReply, CodeBatteryUnlock, "battery compartment unlock reply", 1, fNonce, fStatus(stOnOff, 2)),
	cmd(CodeBatteryLock, "battery compartment lock", 0),
	reply(CodeBatteryLockReply, CodeBatteryLock, "battery compartment lock reply", 1, fNonce, fStatus(stOnOff, 2)),
	reply(CodeStartUpgradeReply, CodeStartUpgrade, "start upgrade reply", 1, fNonce, fStatus("0 may upgrade, 1 upgrade refused", 1)),
	func() Spec {
		s := cmd(CodeFirmwarePackage, "send firmware package", 0,
			fInt("x", "serial", "package serial number", "", 0, 65535),
			fInt("l", "length", "data length in bytes", "B", 1, MaxPackageData),
			FieldSpec{Key: "d", Name: "data", Meaning: "package data, hex encoded (fleetedge's choice: the sheet is silent)", Type: FieldHex, Min: 1, Max: MaxPackageData})
		s.Note = "d carries the bytes as lowercase hex (2 characters per byte); l must equal the data length"
		return s
	}(),
	reply(CodeFirmwarePackageReply, CodeFirmwarePackage, "firmware package reply", 1, fNonce,
		fInt("x", "serial", "package serial number", "", 0, 65535),
		fStatus("0 received (send next), 1 failed (resend; after more than 5 failures the module reboots)", 1)),
	report(CodeUpgradeResult, "upgrade finished", TopicBike, 1, fNonce, fStatus("0 upgrade succeeded, 1 failed", 1)),
	cmd(CodeChainUnlock, "chain lock unlock", 0),
	reply(CodeChainUnlockReply, CodeChainUnlock, "chain lock unlock reply", 1, fNonce, fStatus(stOnOff, 2)),
	cmd(CodePause, "enter pause mode", 0),
	reply(CodePauseReply, CodePause, "enter pause mode reply", 1, fNonce, fStatus(stOKFail, 1)),
	cmd(CodeResume, "exit pause mode", 0),
	reply(CodeResumeReply, CodeResume, "exit pause mode reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeQueryLog, "query IoT log", 0),
	func() Spec {
		s := reply(CodeLogReply, CodeQueryLog, "IoT log", 1, fNonce,
			fStr("b", "log_b", "log string", 0, maxLogLen, FormatText),
			fStr("c", "log_c", "log string", 0, maxLogLen, FormatText),
			fStr("d", "log_d", "log string", 0, maxLogLen, FormatText),
			fStr("e", "log_e", "log string", 0, maxLogLen, FormatText),
			fStr("f", "log_f", "log string", 0, maxLogLen, FormatText),
			fStr("g", "log_g", "log string", 0, maxLogLen, FormatText))
		s.Topic = TopicVehicle
		s.Note = "published on the vehicle topic; i optional there"
		return s
	}(),
	cmd(CodeQueryChainLock, "query chain lock state", 0),
	reply(CodeChainLockState, CodeQueryChainLock, "chain lock state", 1, fNonce, fStatus("0 closed, 1 open", 1)),
	report(CodeVibrationCheck, "vibration check", TopicBike, 0, fStatus("reserved", 255)),
	noReply(cmd(CodeRebootIfUpdated, "reboot IoT if an update was installed", 0)),
	cmd(CodeQuerySignal, "query 4G signal strength", 0),
	reply(CodeSignalReply, CodeQuerySignal, "4G signal strength", 1, fNonce,
		fInt("x", "signal", "signal level", "", 0, 255)),
	cmd(CodeSetServerParams, "set server parameters", 0,
		fStr("u", "params", "host:port:username:password:", 1, maxParamsLen, FormatServerParams)),
	reply(CodeSetServerParamsReply, CodeSetServerParams, "set server parameters reply", 1, fNonce, fStatus("0 ok, 1 failed", 1)),
	cmd(CodeSetSerialNumber, "set IoT serial number", 0,
		fStr("u", "serial", "SN: (serial number followed by a colon)", 1, 33, FormatSerialNumber)),
	reply(CodeSetSerialNumberReply, CodeSetSerialNumber, "set serial number reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeMotorUnlock, "motor lock: unlock", 0),
	reply(CodeMotorUnlockReply, CodeMotorUnlock, "motor unlock reply", 1, fNonce, fStatus(stGeneric, 1)),
	cmd(CodeMotorLock, "motor lock: lock", 0),
	reply(CodeMotorLockReply, CodeMotorLock, "motor lock reply", 1, fNonce, fStatus(stGeneric, 1)),
}
