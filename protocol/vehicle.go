package protocol

// VehicleID is a vehicle number: the scooter's MQTT client id, its command
// topic and the "i" field of its messages.
//
// Rule: 1–32 characters of [A-Za-z0-9_-], and not one of the shared topics
// "bike" or "o" (case-sensitive, as MQTT topics are). Such a string is a
// valid MQTT topic without wildcards or levels, a safe identifier in logs,
// URLs, NATS subjects and SQL, and survives the vendor's unquoted-string quirk.
type VehicleID string

// MaxVehicleIDLen is the longest valid vehicle number.
const MaxVehicleIDLen = 32

// ParseVehicleID validates s as a vehicle number.
func ParseVehicleID(s string) (VehicleID, error) {
	if err := checkVehicleID(s); err != nil {
		return "", err
	}
	return VehicleID(s), nil
}

// Valid reports whether v satisfies the vehicle number rule.
func (v VehicleID) Valid() bool { return checkVehicleID(string(v)) == nil }

func (v VehicleID) String() string { return string(v) }

func checkVehicleID(s string) *DecodeError {
	if len(s) == 0 {
		return &DecodeError{Kind: ErrFormat, Field: "i", Offset: -1, Msg: "empty vehicle number"}
	}
	if len(s) > MaxVehicleIDLen {
		return &DecodeError{Kind: ErrFormat, Field: "i", Offset: -1, Msg: "vehicle number longer than 32 characters"}
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return &DecodeError{Kind: ErrFormat, Field: "i", Offset: -1, Msg: "vehicle number may contain only A-Z a-z 0-9 _ -"}
		}
	}
	if s == TopicNameBike || s == TopicNameO {
		return &DecodeError{Kind: ErrFormat, Field: "i", Offset: -1, Msg: "vehicle number must not be a shared topic name"}
	}
	return nil
}

func checkVehicleIDBytes(b []byte) bool {
	if len(b) == 0 || len(b) > MaxVehicleIDLen {
		return false
	}
	for _, c := range b {
		if !isIDChar(c) {
			return false
		}
	}
	return string(b) != TopicNameBike && string(b) != TopicNameO
}

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
