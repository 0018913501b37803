package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// HandleRequest runs a cloud command request (fleet.cmd.<city>) and returns
// the result to answer it with. The request is checked (link.Validate, vehicle
// number, fields through protocol.NewCommand against the registry); anything
// invalid comes back as OutcomeRejected with the validation error and is
// never sent. TimeoutMs becomes Options.Timeout (the whole wait for the
// reply), Expires the offline wait, ID the command id (a redelivered request
// with an id still in progress joins it instead of sending again).
//
// ctx bounds only the wait: if it ends before the outcome, the result says
// OutcomeTimeout with an error saying so, while the command itself goes on
// (it may still wait for an offline vehicle until Expires) and its final
// outcome reaches the outbox as a command_result event.
func (m *Manager) HandleRequest(ctx context.Context, req link.CommandRequest) link.CommandResult {
	cmd, v, err := m.parseRequest(&req)
	if err != nil {
		res := link.CommandResult{V: link.Version, ID: req.ID, Vehicle: req.Vehicle, Code: req.Code,
			Source: req.Source, Outcome: link.OutcomeRejected, Error: err.Error()}
		if v.Valid() && m.sink != nil {
			m.sink.Emit(link.Event{Vehicle: string(v), Time: m.clock.Now(), Kind: link.EventCommand, Command: &res})
		}
		m.met.outcome(protocol.Code(req.Code), link.OutcomeRejected)
		return res
	}
	p := m.Send(context.WithoutCancel(ctx), v, cmd, Options{Source: req.Source, ID: req.ID,
		Timeout: time.Duration(req.TimeoutMs) * time.Millisecond, Expires: req.Expires})
	r, werr := p.Wait(ctx)
	if werr != nil {
		return link.CommandResult{V: link.Version, ID: p.ID(), Vehicle: req.Vehicle, Code: req.Code, Source: req.Source,
			Outcome: link.OutcomeTimeout,
			Error:   fmt.Sprintf("stopped waiting (%v); the command goes on and its outcome is reported as an event", werr)}
	}
	return r.CommandResult
}

func (m *Manager) parseRequest(req *link.CommandRequest) (protocol.Command, protocol.VehicleID, error) {
	v := protocol.VehicleID(req.Vehicle)
	if err := req.Validate(); err != nil {
		return nil, v, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !v.Valid() {
		_, err := protocol.ParseVehicleID(req.Vehicle)
		return nil, v, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	fields := make(map[string]any, len(req.Fields))
	for k, raw := range req.Fields {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var val any
		if err := d.Decode(&val); err != nil {
			return nil, v, fmt.Errorf("%w: field %q: %w", ErrInvalid, k, err)
		}
		fields[k] = val
	}
	cmd, err := protocol.NewCommand(protocol.Code(req.Code), fields)
	if err != nil {
		return nil, v, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return cmd, v, nil
}
