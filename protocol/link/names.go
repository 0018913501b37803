package link

import (
	"errors"
	"fmt"
	"strconv"
)

// Version is the schema version of every message in this package.
const Version = 1

// JetStream and KV names.
const (
	// StreamUp holds everything gateways send up: telemetry and events of all cities.
	StreamUp = "FLEET_UP"
	// SubjectsUp is the subject filter of StreamUp.
	SubjectsUp = "fleet.up.>"
	// StreamDead keeps what the cloud could not process (DeadLetterSubject of every city),
	// with the reason in headers, for an operator to inspect and replay.
	StreamDead = "FLEET_DEAD"
	// SubjectsDead is the subject filter of StreamDead.
	SubjectsDead = "fleet.dead.>"
)

// Config document kinds: the keys of a city's ConfigBucket.
const (
	ConfigZones    = "zones"
	ConfigTariffs  = "tariffs"
	ConfigVehicles = "vehicles"
	// ConfigTechnicians holds a TechniciansDoc: the field UI's accounts.
	ConfigTechnicians = "technicians"
)

// ErrID reports a city or gateway id that cannot be used as a subject token.
var ErrID = errors.New("link: invalid id")

// CityID identifies a city; it is a NATS subject token.
type CityID string

// GatewayID identifies a gateway; it is a NATS subject token and the first half
// of every Nats-Msg-Id the gateway publishes.
type GatewayID string

// ParseCityID validates s as a city id: 1–64 characters of [a-z0-9_-].
func ParseCityID(s string) (CityID, error) {
	if err := checkToken(s); err != nil {
		return "", fmt.Errorf("city id %q: %w", s, err)
	}
	return CityID(s), nil
}

// ParseGatewayID validates s as a gateway id: 1–64 characters of [a-z0-9_-].
func ParseGatewayID(s string) (GatewayID, error) {
	if err := checkToken(s); err != nil {
		return "", fmt.Errorf("gateway id %q: %w", s, err)
	}
	return GatewayID(s), nil
}

// Lower case only: subjects are case-sensitive and "Paris" vs "paris" would
// silently split one city's traffic in two.
func checkToken(s string) error {
	if len(s) == 0 || len(s) > 64 {
		return fmt.Errorf("%w: length must be 1-64", ErrID)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("%w: character %q at %d (allowed: a-z 0-9 _ -)", ErrID, c, i)
	}
	return nil
}

// TelemetrySubject is where a city's gateways publish TelemetryBatch messages.
func TelemetrySubject(c CityID) string { return "fleet.up." + string(c) + ".telemetry" }

// EventsSubject is where a city's gateways publish EventBatch messages.
func EventsSubject(c CityID) string { return "fleet.up." + string(c) + ".events" }

// CommandSubject is the request/reply subject on which a city's gateway serves
// CommandRequest and answers with CommandResult.
func CommandSubject(c CityID) string { return "fleet.cmd." + string(c) }

// DeadLetterSubject receives up-messages the cloud could not process, with the reason;
// it is outside StreamUp's filter so a poison message never loops.
func DeadLetterSubject(c CityID) string { return "fleet.dead." + string(c) }

// GatewayInboxPrefix is the reply-inbox prefix a gateway's NATS connection uses
// (nats.CustomInboxPrefix). The cloud grants each gateway only its own prefix, so
// one gateway can never read replies meant for another.
func GatewayInboxPrefix(g GatewayID) string { return "_INBOX.gw-" + string(g) }

// ConfigBucket is the JetStream key-value bucket holding one city's configuration
// documents, keyed by kind (ConfigZones, ConfigTariffs, ConfigVehicles,
// ConfigTechnicians). One bucket
// per city, so NATS permissions can give a gateway its own city's bucket
// ($KV.FLEET_CONFIG_<city>.>) and nothing else: vehicle credential hashes of other
// cities stay out of its reach.
func ConfigBucket(c CityID) string { return "FLEET_CONFIG_" + string(c) }

// MsgID is the Nats-Msg-Id of a batch holding the gateway's records first..last
// (inclusive): "<gateway>.<seq>" for a single record, "<gateway>.<first>-<last>" for a
// range. A resend of the same batch is dropped by JetStream's duplicate window; a resend
// batched differently gets a different id and is deduplicated by the consumer on
// (gateway, seq).
func MsgID(g GatewayID, first, last uint64) string {
	b := make([]byte, 0, len(g)+42)
	b = append(b, g...)
	b = append(b, '.')
	b = strconv.AppendUint(b, first, 10)
	if last != first {
		b = append(b, '-')
		b = strconv.AppendUint(b, last, 10)
	}
	return string(b)
}
