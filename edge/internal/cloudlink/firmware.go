package cloudlink

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrNoFirmware is the refusal of a firmware request by a gateway whose command handler
// cannot run upgrade jobs.
var ErrNoFirmware = errors.New("this gateway cannot run firmware upgrades")

// FirmwareStarter starts firmware upgrade jobs (command.Manager implements it). When
// Config.Commands implements it, firmware requests from the cloud start jobs on it.
type FirmwareStarter interface {
	StartUpgrade(v protocol.VehicleID, image []byte, opts command.UpgradeOptions) (*command.Upgrade, error)
}

// isFirmware reports whether a request on the command subject is a link.FirmwareRequest.
func isFirmware(msg *nats.Msg) bool {
	return msg.Header != nil && msg.Header.Get(link.KindHeader) == link.KindFirmware
}

// handleFirmware starts the upgrade a link.FirmwareRequest asks for and says whether it did;
// the job then reports through the command manager's EventSink (link.EventFirmware events
// with the request's job id). It never blocks on the vehicle.
func (l *Link) handleFirmware(data []byte) link.FirmwareAccepted {
	var req link.FirmwareRequest
	if err := json.Unmarshal(data, &req); err != nil {
		id := decodeLoose(data)
		return link.FirmwareAccepted{V: link.Version, Vehicle: id.Vehicle, Error: fmt.Sprintf("%v: %v", ErrMalformed, err)}
	}
	res := link.FirmwareAccepted{V: link.Version, JobID: req.JobID, Vehicle: req.Vehicle}
	if err := req.Validate(); err != nil {
		res.Error = fmt.Errorf("%w: %w", ErrMalformed, err).Error()
		return res
	}
	fs, ok := l.cfg.Commands.(FirmwareStarter)
	if !ok {
		res.Error = ErrNoFirmware.Error()
		return res
	}
	opts := command.UpgradeOptions{JobID: req.JobID, Source: req.Source, MaxRestarts: req.MaxRestarts,
		RestartDelay: time.Duration(req.RestartDelayMs) * time.Millisecond}
	if _, err := fs.StartUpgrade(protocol.VehicleID(req.Vehicle), req.Image, opts); err != nil {
		res.Error = err.Error()
		return res
	}
	res.Accepted = true
	l.log.Info("firmware upgrade started from the cloud", "job", req.JobID, "vehicle", req.Vehicle,
		"bytes", len(req.Image), "source", req.Source)
	return res
}

// respondFirmware answers a firmware request.
func (l *Link) respondFirmware(msg *nats.Msg, res link.FirmwareAccepted) {
	outcome := link.OutcomeAcked
	if !res.Accepted {
		outcome = link.OutcomeRejected
		l.log.Info("firmware request refused", "job", res.JobID, "vehicle", res.Vehicle, "err", res.Error)
	}
	l.countRequest(outcome)
	data, err := json.Marshal(res)
	if err != nil {
		l.log.Error("firmware answer not encodable", "job", res.JobID, "err", err)
		return
	}
	if err := msg.Respond(data); err != nil {
		l.countReplyError()
		l.log.Warn("firmware answer not sent", "job", res.JobID, "vehicle", res.Vehicle, "err", err)
	}
}
