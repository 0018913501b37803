package protocol

// Message is one decoded or to-be-encoded protocol message: a pointer to one
// of the types below (*Heartbeat, *SetSpeedLimit, ...). The set is closed.
type Message interface {
	Code() Code
	visit(v *visitor)
}

// Command is a server→scooter message. Its vehicle is the topic, not a field.
type Command interface {
	Message
	command()
}

// Report is a scooter→server message: a reply or an unsolicited report.
type Report interface {
	Message
	// Vehicle is the sender ("i", or the topic for 78 on the vehicle topic).
	Vehicle() VehicleID
	// Fields says which fields the payload carried (see Header.Present).
	Fields() FieldMask
	header() *Header
}

// Header is embedded in every scooter→server message.
type Header struct {
	// From is the vehicle number from "i" (or the vehicle topic).
	From VehicleID `json:"from"`
	// Present lists the fields that arrived with a value; a field not in it
	// holds its zero value (the firmware omits and empties fields, e.g.
	// {"a":102,"i":"12AB","s":}). Encoders write only these fields; a zero
	// mask means "all fields" (for values built by hand).
	Present FieldMask `json:"present"`
}

// Vehicle returns the sender.
func (h *Header) Vehicle() VehicleID { return h.From }

// Fields returns the presence mask.
func (h *Header) Fields() FieldMask { return h.Present }

// Has reports whether the field with this key was present.
func (h *Header) Has(key byte) bool { return h.Present.Has(key) }

func (h *Header) header() *Header { return h }

// Status is the "s" result of an ack. Its meaning per code is in the registry.
type Status int

// Common status values.
const (
	StatusOK        Status = 0 // success / may upgrade / received
	StatusFailed    Status = 1 // hardware fault, failure, refused
	StatusUpgrading Status = 2 // firmware upgrading
	StatusTooLate   Status = 3 // already later than the latest shutdown time (6–12)
)

// DistanceUnit is 41's f.
type DistanceUnit int

// Distance units.
const (
	Kilometres DistanceUnit = 0
	Miles      DistanceUnit = 1
)

// LampMode is 43's j.
type LampMode int

// Lamp modes.
const (
	LampCommandControl LampMode = 0
	LampAlwaysOn       LampMode = 1
)

// ---- Commands without fields ----

// PowerOn (1) unlocks the scooter for a ride.
type PowerOn struct{}

// PowerOff (3) ends a ride.
type PowerOff struct{}

// ClearRideMileage (5).
type ClearRideMileage struct{}

// ClearRideTime (7).
type ClearRideTime struct{}

// ClearTotalMileage (9).
type ClearTotalMileage struct{}

// ClearTotalTime (11).
type ClearTotalTime struct{}

// QueryParams (15) asks for VehicleParams (16).
type QueryParams struct{}

// QueryGPS (18) asks for a GPSReport (19).
type QueryGPS struct{}

// Reboot (20) reboots the IoT module; no reply.
type Reboot struct{}

// QueryVersion (21) asks for VersionReply (22).
type QueryVersion struct{}

// QueryIMEI (24) asks for IMEIReply (25).
type QueryIMEI struct{}

// Buzzer (28) sounds the alarm buzzer; no reply.
type Buzzer struct{}

// QueryServerParams (35) asks for ServerParamsReply (36).
type QueryServerParams struct{}

// BatteryUnlock (60) opens the battery compartment.
type BatteryUnlock struct{}

// BatteryLock (62) closes the battery compartment.
type BatteryLock struct{}

// ChainUnlock (71) opens the chain lock.
type ChainUnlock struct{}

// Pause (73) enters pause mode (the rider pauses a trip).
type Pause struct{}

// Resume (75) exits pause mode.
type Resume struct{}

// QueryLog (77) asks for LogReply (78, on the vehicle topic).
type QueryLog struct{}

// QueryChainLock (83) asks for ChainLockState (84).
type QueryChainLock struct{}

// RebootIfUpdated (93) reboots the IoT module if an update was installed; no reply.
type RebootIfUpdated struct{}

// QuerySignal (97) asks for SignalReply (98).
type QuerySignal struct{}

// MotorUnlock (105).
type MotorUnlock struct{}

// MotorLock (107).
type MotorLock struct{}

func (*PowerOn) visit(*visitor)           {}
func (*PowerOff) visit(*visitor)          {}
func (*ClearRideMileage) visit(*visitor)  {}
func (*ClearRideTime) visit(*visitor)     {}
func (*ClearTotalMileage) visit(*visitor) {}
func (*ClearTotalTime) visit(*visitor)    {}
func (*QueryParams) visit(*visitor)       {}
func (*QueryGPS) visit(*visitor)          {}
func (*Reboot) visit(*visitor)            {}
func (*QueryVersion) visit(*visitor)      {}
func (*QueryIMEI) visit(*visitor)         {}
func (*Buzzer) visit(*visitor)            {}
func (*QueryServerParams) visit(*visitor) {}
func (*BatteryUnlock) visit(*visitor)     {}
func (*BatteryLock) visit(*visitor)       {}
func (*ChainUnlock) visit(*visitor)       {}
func (*Pause) visit(*visitor)             {}
func (*Resume) visit(*visitor)            {}
func (*QueryLog) visit(*visitor)          {}
func (*QueryChainLock) visit(*visitor)    {}
func (*RebootIfUpdated) visit(*visitor)   {}
func (*QuerySignal) visit(*visitor)       {}
func (*MotorUnlock) visit(*visitor)       {}
func (*MotorLock) visit(*visitor)         {}

// ---- Commands with fields (constructors in commands.go validate) ----

// SetSpeedLimit (13): k = 2000 + KMH.
type SetSpeedLimit struct {
	KMH int `json:"kmh"` // 0–30
}

func (c *SetSpeedLimit) visit(v *visitor) {
	k := c.KMH + speedLimitBase
	vInt(v, 'k', &k)
	c.KMH = k - speedLimitBase
}

// StartUpgrade (23): announces Packages 1024-byte packages; reply 66.
type StartUpgrade struct {
	Packages int `json:"packages"`
}

func (c *StartUpgrade) visit(v *visitor) { vInt(v, 'l', &c.Packages) }

// FirmwarePackage (67): one package; l is len(Data), d is Data in hex. Reply 68.
type FirmwarePackage struct {
	Serial int    `json:"serial"`
	Data   []byte `json:"data"`
}

func (c *FirmwarePackage) visit(v *visitor) {
	vInt(v, 'x', &c.Serial)
	l := len(c.Data)
	vInt(v, 'l', &l)
	vHex(v, 'd', &c.Data)
	if v.dec && v.err == nil && l != len(c.Data) {
		v.fail(ErrFormat, 'l', int(v.obj.v[keyIndex('l')].start), "l differs from the length of d")
	}
}

// SetServerParamsLegacy (33, deprecated): u = "ip,port,vehicle,gps,heartbeat,retries".
type SetServerParamsLegacy struct {
	IP                string `json:"ip"`
	Port              int    `json:"port"`
	Vehicle           string `json:"vehicle"`
	GPSInterval       int    `json:"gps_interval_s"`
	HeartbeatInterval int    `json:"heartbeat_interval_s"`
	HeartbeatRetries  int    `json:"heartbeat_retries"`
}

func (c *SetServerParamsLegacy) visit(v *visitor) {
	var u string
	if !v.dec {
		u = c.wire()
		if _, err := parseLegacyServerParams(u); err != nil || !roundTrips(c, u, parseLegacyServerParams) {
			v.encFail(ErrFormat, 'u', formatMsg(err))
			return
		}
	}
	vStr(v, 'u', &u)
	if v.dec && v.err == nil && v.present.Has('u') {
		p, err := parseLegacyServerParams(u)
		if err != nil {
			v.fail(ErrFormat, 'u', int(v.obj.v[keyIndex('u')].start), err.Error())
			return
		}
		*c = p
	}
}

// SetHeadlight (37): d 1 on, 0 off.
type SetHeadlight struct {
	On bool `json:"on"`
}

func (c *SetHeadlight) visit(v *visitor) {
	d := 0
	if c.On {
		d = 1
	}
	vInt(v, 'd', &d)
	c.On = d == 1
}

// SetVibration (39): v 0 off, 1–99.
type SetVibration struct {
	Sensitivity int `json:"sensitivity"`
}

func (c *SetVibration) visit(v *visitor) { vInt(v, 'v', &c.Sensitivity) }

// SetDistanceUnit (41): f.
type SetDistanceUnit struct {
	Unit DistanceUnit `json:"unit"`
}

func (c *SetDistanceUnit) visit(v *visitor) { vInt(v, 'f', &c.Unit) }

// SetLampMode (43): j.
type SetLampMode struct {
	Mode LampMode `json:"mode"`
}

func (c *SetLampMode) visit(v *visitor) { vInt(v, 'j', &c.Mode) }

// SetAssistLevel (49): k 0–2.
type SetAssistLevel struct {
	Level int `json:"level"`
}

func (c *SetAssistLevel) visit(v *visitor) { vInt(v, 'k', &c.Level) }

// SetAPN (53): z = AT+QICSGP=15,1,"APN","User","Password",0. Reply 54 on "o".
type SetAPN struct {
	APN      string `json:"apn"`
	User     string `json:"user"`
	Password string `json:"password"`
}

func (c *SetAPN) visit(v *visitor) {
	var z string
	if !v.dec {
		z = c.wire()
		if _, err := parseAPN(z); err != nil || !roundTrips(c, z, parseAPN) {
			v.encFail(ErrFormat, 'z', formatMsg(err))
			return
		}
	}
	vStr(v, 'z', &z)
	if v.dec && v.err == nil && v.present.Has('z') {
		p, err := parseAPN(z)
		if err != nil {
			v.fail(ErrFormat, 'z', int(v.obj.v[keyIndex('z')].start), err.Error())
			return
		}
		*c = p
	}
}

// SpecialBuzzer (58): v rings, i ring ms (not the vehicle!), L silence ms. No reply.
type SpecialBuzzer struct {
	Rings     int `json:"rings"`
	RingMS    int `json:"ring_ms"`
	SilenceMS int `json:"silence_ms"`
}

func (c *SpecialBuzzer) visit(v *visitor) {
	vInt(v, 'v', &c.Rings)
	vInt(v, 'i', &c.RingMS)
	vInt(v, 'L', &c.SilenceMS)
}

// SetServerParams (101): u = "host:port:user:password:".
type SetServerParams struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
}

func (c *SetServerParams) visit(v *visitor) {
	var u string
	if !v.dec {
		u = c.wire()
		if _, err := parseServerParams(u); err != nil || !roundTrips(c, u, parseServerParams) {
			v.encFail(ErrFormat, 'u', formatMsg(err))
			return
		}
	}
	vStr(v, 'u', &u)
	if v.dec && v.err == nil && v.present.Has('u') {
		p, err := parseServerParams(u)
		if err != nil {
			v.fail(ErrFormat, 'u', int(v.obj.v[keyIndex('u')].start), err.Error())
			return
		}
		*c = p
	}
}

// SetSerialNumber (103): u = Serial + ":".
type SetSerialNumber struct {
	Serial string `json:"serial"`
}

func (c *SetSerialNumber) visit(v *visitor) {
	var u string
	if !v.dec {
		u = c.wire()
		if _, err := parseSerialNumber(u); err != nil || !roundTrips(c, u, parseSerialNumber) {
			v.encFail(ErrFormat, 'u', formatMsg(err))
			return
		}
	}
	vStr(v, 'u', &u)
	if v.dec && v.err == nil && v.present.Has('u') {
		p, err := parseSerialNumber(u)
		if err != nil {
			v.fail(ErrFormat, 'u', int(v.obj.v[keyIndex('u')].start), err.Error())
			return
		}
		*c = p
	}
}

// ---- Replies and reports (scooter → server) ----

// OpResult holds the fields of the replies to 1, 3, 5, 7, 9, 11.
type OpResult struct {
	Nonce  int64  `json:"nonce"`  // t
	Status Status `json:"status"` // s
	Serial int64  `json:"serial"` // n
}

func (r *OpResult) visit(v *visitor) {
	vInt(v, 't', &r.Nonce)
	vInt(v, 's', &r.Status)
	vInt(v, 'n', &r.Serial)
}

// Ack holds the fields of the many replies that carry only a result.
type Ack struct {
	Nonce  int64  `json:"nonce"`  // t (optional)
	Status Status `json:"status"` // s
}

func (r *Ack) visit(v *visitor) {
	vInt(v, 't', &r.Nonce)
	vInt(v, 's', &r.Status)
}

// PowerOnReply (2).
type PowerOnReply struct {
	Header
	OpResult
}

// PowerOffReply (4).
type PowerOffReply struct {
	Header
	OpResult
}

// ClearRideMileageReply (6).
type ClearRideMileageReply struct {
	Header
	OpResult
}

// ClearRideTimeReply (8).
type ClearRideTimeReply struct {
	Header
	OpResult
}

// ClearTotalMileageReply (10).
type ClearTotalMileageReply struct {
	Header
	OpResult
}

// ClearTotalTimeReply (12).
type ClearTotalTimeReply struct {
	Header
	OpResult
}

// SetSpeedLimitReply (14).
type SetSpeedLimitReply struct {
	Header
	Ack
}

// SetServerParamsLegacyReply (34).
type SetServerParamsLegacyReply struct {
	Header
	Ack
}

// SetHeadlightReply (38).
type SetHeadlightReply struct {
	Header
	Ack
}

// SetVibrationReply (40).
type SetVibrationReply struct {
	Header
	Ack
}

// SetDistanceUnitReply (42).
type SetDistanceUnitReply struct {
	Header
	Ack
}

// SetLampModeReply (44).
type SetLampModeReply struct {
	Header
	Ack
}

// SetAssistLevelReply (50).
type SetAssistLevelReply struct {
	Header
	Ack
}

// SetAPNReply (54), published on "o".
type SetAPNReply struct {
	Header
	Ack
}

// BatteryUnlockReply (61).
type BatteryUnlockReply struct {
	Header
	Ack
}

// BatteryLockReply (63).
type BatteryLockReply struct {
	Header
	Ack
}

// StartUpgradeReply (66): 0 may upgrade, 1 refused.
type StartUpgradeReply struct {
	Header
	Ack
}

// UpgradeResult (69, unsolicited): 0 upgrade succeeded, 1 failed.
type UpgradeResult struct {
	Header
	Ack
}

// ChainUnlockReply (72).
type ChainUnlockReply struct {
	Header
	Ack
}

// PauseReply (74).
type PauseReply struct {
	Header
	Ack
}

// ResumeReply (76).
type ResumeReply struct {
	Header
	Ack
}

// ChainLockState (84): Status 0 closed, 1 open.
type ChainLockState struct {
	Header
	Ack
}

// SetServerParamsReply (102).
type SetServerParamsReply struct {
	Header
	Ack
}

// SetSerialNumberReply (104).
type SetSerialNumberReply struct {
	Header
	Ack
}

// MotorUnlockReply (106).
type MotorUnlockReply struct {
	Header
	Ack
}

// MotorLockReply (108).
type MotorLockReply struct {
	Header
	Ack
}

// VehicleParams (16), the reply to 15.
type VehicleParams struct {
	Header
	Status       int     `json:"status"`        // s
	SpeedLimit   int     `json:"speed_limit"`   // k, km/h (see SpeedLimitKMH)
	Speed        float64 `json:"speed"`         // p, km/h
	Error        int     `json:"error"`         // e, error code
	Battery      int     `json:"battery"`       // b, %
	TotalTime    int64   `json:"total_time"`    // y, s
	TotalMileage float64 `json:"total_mileage"` // q, km
	RideTime     int64   `json:"ride_time"`     // w, s
	RideMileage  float64 `json:"ride_mileage"`  // z, km
	Power        int     `json:"power"`         // c, 0 on, 1 off
}

func (m *VehicleParams) visit(v *visitor) {
	vInt(v, 's', &m.Status)
	vInt(v, 'k', &m.SpeedLimit)
	vFloat(v, 'p', &m.Speed)
	vInt(v, 'e', &m.Error)
	vInt(v, 'b', &m.Battery)
	vInt(v, 'y', &m.TotalTime)
	vFloat(v, 'q', &m.TotalMileage)
	vInt(v, 'w', &m.RideTime)
	vFloat(v, 'z', &m.RideMileage)
	vInt(v, 'c', &m.Power)
}

// SpeedLimitKMH returns k in km/h, accepting the 2000+km/h form some
// firmware may report.
func (m *VehicleParams) SpeedLimitKMH() int {
	if m.SpeedLimit >= speedLimitBase {
		return m.SpeedLimit - speedLimitBase
	}
	return m.SpeedLimit
}

// GPSReport (19): unsolicited and the reply to 18. Time is GPS time (unix s).
type GPSReport struct {
	Header
	Position GPS   `json:"position"` // g
	Time     int64 `json:"time"`     // t, unix seconds (not a nonce here)
}

func (m *GPSReport) visit(v *visitor) {
	vGPS(v, 'g', &m.Position)
	vInt(v, 't', &m.Time)
}

// VersionReply (22).
type VersionReply struct {
	Header
	Hardware string `json:"hardware"` // h
	Firmware string `json:"firmware"` // f
	SIM      string `json:"sim"`      // c
	IMEI     string `json:"imei"`     // m, digits
	Power    int    `json:"power"`    // s, 0 powered on, 1 off
	Nonce    int64  `json:"nonce"`    // t
}

func (m *VersionReply) visit(v *visitor) {
	vStr(v, 'h', &m.Hardware)
	vStr(v, 'f', &m.Firmware)
	vStr(v, 'c', &m.SIM)
	vDigits(v, 'm', &m.IMEI)
	vInt(v, 's', &m.Power)
	vInt(v, 't', &m.Nonce)
}

// IMEIReply (25). IMEI is kept as the exact digit string.
type IMEIReply struct {
	Header
	IMEI  string `json:"imei"`  // h
	Nonce int64  `json:"nonce"` // t
}

func (m *IMEIReply) visit(v *visitor) {
	vDigits(v, 'h', &m.IMEI)
	vInt(v, 't', &m.Nonce)
}

// Heartbeat (27): vehicle status, unsolicited.
type Heartbeat struct {
	Header
	Battery   int     `json:"battery"`   // b, %
	Power     int     `json:"power"`     // c, 0 on, 1 off
	Posture   int     `json:"posture"`   // s, 0 upright, 1 fallen
	Voltage   float64 `json:"voltage"`   // r, V
	Vibration int     `json:"vibration"` // v, sensitivity
	Station   int     `json:"station"`   // x, 1 at a station, 3 not
}

func (m *Heartbeat) visit(v *visitor) {
	vInt(v, 'b', &m.Battery)
	vInt(v, 'c', &m.Power)
	vInt(v, 's', &m.Posture)
	vFloat(v, 'r', &m.Voltage)
	vInt(v, 'v', &m.Vibration)
	vInt(v, 'x', &m.Station)
}

// ServerParamsReply (36): u "ip,port,username,password,vehicle,GPS interval", kept as sent.
type ServerParamsReply struct {
	Header
	Nonce  int64  `json:"nonce"`  // t
	Params string `json:"params"` // u
}

func (m *ServerParamsReply) visit(v *visitor) {
	vInt(v, 't', &m.Nonce)
	vStr(v, 'u', &m.Params)
}

// StatusParams (55, removed from the latest firmware), on "o".
type StatusParams struct {
	Header
	Posture int     `json:"posture"` // s
	Voltage float64 `json:"voltage"` // r
}

func (m *StatusParams) visit(v *visitor) {
	vInt(v, 's', &m.Posture)
	vFloat(v, 'r', &m.Voltage)
}

// VibrationDetected (57, removed from the latest firmware), on "o".
type VibrationDetected struct {
	Header
	Status int `json:"status"` // s
}

func (m *VibrationDetected) visit(v *visitor) { vInt(v, 's', &m.Status) }

// FirmwarePackageReply (68): Status 0 received (send next), 1 failed (resend Serial).
type FirmwarePackageReply struct {
	Header
	Nonce  int64  `json:"nonce"`  // t
	Serial int    `json:"serial"` // x
	Status Status `json:"status"` // s
}

func (m *FirmwarePackageReply) visit(v *visitor) {
	vInt(v, 't', &m.Nonce)
	vInt(v, 'x', &m.Serial)
	vInt(v, 's', &m.Status)
}

// LogReply (78), published on the vehicle topic: six log strings.
type LogReply struct {
	Header
	Nonce int64  `json:"nonce"` // t
	B     string `json:"b"`
	C     string `json:"c"`
	D     string `json:"d"`
	E     string `json:"e"`
	F     string `json:"f"`
	G     string `json:"g"`
}

func (m *LogReply) visit(v *visitor) {
	vInt(v, 't', &m.Nonce)
	vStr(v, 'b', &m.B)
	vStr(v, 'c', &m.C)
	vStr(v, 'd', &m.D)
	vStr(v, 'e', &m.E)
	vStr(v, 'f', &m.F)
	vStr(v, 'g', &m.G)
}

// VibrationCheck (88): s reserved.
type VibrationCheck struct {
	Header
	Status int `json:"status"`
}

func (m *VibrationCheck) visit(v *visitor) { vInt(v, 's', &m.Status) }

// SignalReply (98): x signal level.
type SignalReply struct {
	Header
	Nonce int64 `json:"nonce"` // t
	Level int   `json:"level"` // x
}

func (m *SignalReply) visit(v *visitor) {
	vInt(v, 't', &m.Nonce)
	vInt(v, 'x', &m.Level)
}
