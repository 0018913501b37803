package link

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Firmware upgrades from the cloud travel on the city's CommandSubject (the one subject a
// gateway's NATS grants let it serve), told apart from command requests by the NATS header
// KindHeader = KindFirmware. The gateway answers with a FirmwareAccepted at once; the
// upgrade's progress and outcome then come up as EventFirmware events whose JobID is the
// request's JobID.
const (
	// KindHeader names the kind of a request on CommandSubject; absent means a
	// CommandRequest.
	KindHeader = "Fleetedge-Kind"
	// KindFirmware marks a FirmwareRequest.
	KindFirmware = "firmware"
)

// MaxFirmwareImage bounds an image sent in one request (NATS' default max_payload is 1 MiB
// and the image travels base64-encoded inside JSON).
const MaxFirmwareImage = 512 << 10

// FirmwareJobID is the per-vehicle job id the cloud sends for vehicle of its job.
func FirmwareJobID(job, vehicle string) string { return job + ":" + vehicle }

// ParseFirmwareJobID splits a per-vehicle job id made by FirmwareJobID; ok is false for any
// other id (e.g. a job a field technician started on the gateway).
func ParseFirmwareJobID(id string) (job, vehicle string, ok bool) {
	job, vehicle, ok = strings.Cut(id, ":")
	return job, vehicle, ok && job != "" && vehicle != ""
}

// FirmwarePackageSize is the package size of the 23/67 exchange (PROTOCOL.md).
const FirmwarePackageSize = 1024

// FirmwareRequest asks a city's gateway to run a firmware upgrade job on one vehicle.
type FirmwareRequest struct {
	V int `json:"v"`
	// JobID is echoed in every EventFirmware of the job. It must be unique per vehicle on the
	// gateway (its command ids derive from it): the cloud sends "<job uuid>:<vehicle>".
	JobID   string `json:"job_id"`
	Vehicle string `json:"vehicle"`
	Image   []byte `json:"image"`  // base64 in JSON
	SHA256  string `json:"sha256"` // lower-case hex of Image: checked before anything starts
	Source  string `json:"source"` // who asked, e.g. "admin:<id>"
	// MaxRestarts bounds how often the upgrade starts over (0: the gateway's default).
	MaxRestarts int `json:"max_restarts,omitempty"`
	// RestartDelayMs is the pause before starting over (0: the gateway's default).
	RestartDelayMs int `json:"restart_delay_ms,omitempty"`
}

// Validate checks the request, including the image's digest.
func (r *FirmwareRequest) Validate() error {
	switch {
	case r.V != Version:
		return fmt.Errorf("%w: v=%d, want %d", ErrVersion, r.V, Version)
	case r.JobID == "" || len(r.JobID) > 128:
		return fmt.Errorf("%w: firmware job id must be 1-128 bytes", ErrInvalid)
	case r.Vehicle == "":
		return fmt.Errorf("%w: firmware request without vehicle", ErrInvalid)
	case len(r.Image) == 0 || len(r.Image) > MaxFirmwareImage:
		return fmt.Errorf("%w: firmware image of %d bytes (1 to %d)", ErrInvalid, len(r.Image), MaxFirmwareImage)
	case r.MaxRestarts < 0 || r.MaxRestarts > 10:
		return fmt.Errorf("%w: max_restarts %d outside 0-10", ErrInvalid, r.MaxRestarts)
	case r.RestartDelayMs < 0 || r.RestartDelayMs > 600_000:
		return fmt.Errorf("%w: restart_delay_ms %d outside 0-600000", ErrInvalid, r.RestartDelayMs)
	}
	if got := FirmwareDigest(r.Image); got != r.SHA256 {
		return fmt.Errorf("%w: firmware image sha256 %s, request says %q", ErrInvalid, got, r.SHA256)
	}
	return nil
}

// FirmwareDigest is the lower-case hex SHA-256 of an image.
func FirmwareDigest(image []byte) string {
	sum := sha256.Sum256(image)
	return hex.EncodeToString(sum[:])
}

// FirmwarePackages is the number of packages an image is sent in.
func FirmwarePackages(size int) int { return (size + FirmwarePackageSize - 1) / FirmwarePackageSize }

// FirmwareAccepted is the gateway's answer to a FirmwareRequest: whether the job started.
// A refusal (invalid request, an upgrade already running on the vehicle, a gateway that
// cannot run upgrades) carries the reason and produces no events.
type FirmwareAccepted struct {
	V        int    `json:"v"`
	JobID    string `json:"job_id"`
	Vehicle  string `json:"vehicle"`
	Accepted bool   `json:"accepted"`
	Error    string `json:"error,omitempty"`
}
