package protocol

import "strconv"

// Code is a message code: the value of field "a".
type Code int

// Message codes of PROTOCOL.md. Commands (server→scooter) have odd codes
// except 20, 28, 58, 93 and 67; replies are the command's code+1 unless noted
// in the registry (23→66, 67→68).
const (
	CodePowerOn                    Code = 1
	CodePowerOnReply               Code = 2
	CodePowerOff                   Code = 3
	CodePowerOffReply              Code = 4
	CodeClearRideMileage           Code = 5
	CodeClearRideMileageReply      Code = 6
	CodeClearRideTime              Code = 7
	CodeClearRideTimeReply         Code = 8
	CodeClearTotalMileage          Code = 9
	CodeClearTotalMileageReply     Code = 10
	CodeClearTotalTime             Code = 11
	CodeClearTotalTimeReply        Code = 12
	CodeSetSpeedLimit              Code = 13
	CodeSetSpeedLimitReply         Code = 14
	CodeQueryParams                Code = 15
	CodeVehicleParams              Code = 16
	CodeQueryGPS                   Code = 18
	CodeGPSReport                  Code = 19
	CodeReboot                     Code = 20
	CodeQueryVersion               Code = 21
	CodeVersionReply               Code = 22
	CodeStartUpgrade               Code = 23
	CodeQueryIMEI                  Code = 24
	CodeIMEIReply                  Code = 25
	CodeHeartbeat                  Code = 27
	CodeBuzzer                     Code = 28
	CodeSetServerParamsLegacy      Code = 33
	CodeSetServerParamsLegacyReply Code = 34
	CodeQueryServerParams          Code = 35
	CodeServerParamsReply          Code = 36
	CodeSetHeadlight               Code = 37
	CodeSetHeadlightReply          Code = 38
	CodeSetVibration               Code = 39
	CodeSetVibrationReply          Code = 40
	CodeSetDistanceUnit            Code = 41
	CodeSetDistanceUnitReply       Code = 42
	CodeSetLampMode                Code = 43
	CodeSetLampModeReply           Code = 44
	CodeSetAssistLevel             Code = 49
	CodeSetAssistLevelReply        Code = 50
	CodeSetAPN                     Code = 53
	CodeSetAPNReply                Code = 54
	CodeStatusParams               Code = 55
	CodeVibrationDetected          Code = 57
	CodeSpecialBuzzer              Code = 58
	CodeBatteryUnlock              Code = 60
	CodeBatteryUnlockReply         Code = 61
	CodeBatteryLock                Code = 62
	CodeBatteryLockReply           Code = 63
	CodeStartUpgradeReply          Code = 66
	CodeFirmwarePackage            Code = 67
	CodeFirmwarePackageReply       Code = 68
	CodeUpgradeResult              Code = 69
	CodeChainUnlock                Code = 71
	CodeChainUnlockReply           Code = 72
	CodePause                      Code = 73
	CodePauseReply                 Code = 74
	CodeResume                     Code = 75
	CodeResumeReply                Code = 76
	CodeQueryLog                   Code = 77
	CodeLogReply                   Code = 78
	CodeQueryChainLock             Code = 83
	CodeChainLockState             Code = 84
	CodeVibrationCheck             Code = 88
	CodeRebootIfUpdated            Code = 93
	CodeQuerySignal                Code = 97
	CodeSignalReply                Code = 98
	CodeSetServerParams            Code = 101
	CodeSetServerParamsReply       Code = 102
	CodeSetSerialNumber            Code = 103
	CodeSetSerialNumberReply       Code = 104
	CodeMotorUnlock                Code = 105
	CodeMotorUnlockReply           Code = 106
	CodeMotorLock                  Code = 107
	CodeMotorLockReply             Code = 108
)

// String returns the registry name, e.g. "heartbeat", or "code N" if unknown.
func (c Code) String() string {
	if s := specFor(c); s != nil {
		return s.Name
	}
	return "code " + strconv.Itoa(int(c))
}

// Direction says who sends a message.
type Direction uint8

// Directions.
const (
	ToScooter   Direction = iota + 1 // server → scooter ("WR"), a command
	FromScooter                      // scooter → server ("RD"), a reply or report
)

func (d Direction) String() string {
	switch d {
	case ToScooter:
		return "to-scooter"
	case FromScooter:
		return "from-scooter"
	}
	return "direction " + strconv.Itoa(int(d))
}

// MarshalText renders the direction for JSON/admin UIs.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// TopicKind is where a message is published.
type TopicKind uint8

// Topic kinds.
const (
	TopicVehicle TopicKind = iota + 1 // the vehicle number, e.g. "12AB"
	TopicBike                         // the shared topic "bike"
	TopicO                            // the shared topic "o"
)

// The two shared MQTT topics scooters publish on.
const (
	TopicNameBike = "bike"
	TopicNameO    = "o"
)

func (t TopicKind) String() string {
	switch t {
	case TopicVehicle:
		return "<vehicle>"
	case TopicBike:
		return TopicNameBike
	case TopicO:
		return TopicNameO
	}
	return "topic " + strconv.Itoa(int(t))
}

// MarshalText renders the topic kind for JSON/admin UIs.
func (t TopicKind) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Name returns the concrete MQTT topic for a message of this kind sent by or to v.
func (t TopicKind) Name(v VehicleID) string {
	switch t {
	case TopicBike:
		return TopicNameBike
	case TopicO:
		return TopicNameO
	}
	return string(v)
}
