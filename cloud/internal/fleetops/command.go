package fleetops

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// VehicleCommandInput is a protocol command as the admin API takes it.
type VehicleCommandInput struct {
	Code      int            `json:"code" minimum:"1" maximum:"255" doc:"Protocol command code (PROTOCOL.md), e.g. 107 motor lock, 13 speed limit"`
	Fields    map[string]any `json:"fields,omitempty" doc:"The command's fields by wire key, e.g. {\"k\": 2020} for code 13; validated against the protocol registry"`
	TimeoutMs int            `json:"timeout_ms,omitempty" minimum:"0" maximum:"600000" doc:"Wait for the scooter's reply at most this long (0: the gateway's policy for the code)"`
}

// VehicleCommandResult is the outcome of a command as the scooter (through its gateway) gave it.
type VehicleCommandResult struct {
	ID        string         `json:"id" doc:"Command id (also in the command_result event and the audit entry)"`
	Vehicle   string         `json:"vehicle" doc:"Vehicle number"`
	City      string         `json:"city" doc:"City the command was sent to"`
	Code      int            `json:"code" doc:"Command code"`
	Outcome   string         `json:"outcome" enum:"acked,failed,rejected" doc:"acked: the scooter replied with success (or the command has no reply and was sent); failed: it replied with a failure status; rejected: the gateway refused the command (never sent)"`
	ReplyCode int            `json:"reply_code,omitempty" doc:"Code of the scooter's reply"`
	HasStatus bool           `json:"has_status" doc:"The reply carried a status s"`
	Status    int            `json:"status" doc:"The reply's status s (0 success) when has_status"`
	Reply     map[string]any `json:"reply,omitempty" doc:"The decoded reply as a JSON object"`
	Error     string         `json:"error,omitempty" doc:"Why it failed or was rejected"`
	Attempts  int            `json:"attempts,omitempty" doc:"Publications to the scooter"`
	LatencyMs float64        `json:"latency_ms,omitempty" doc:"Time from the first publication to the reply"`
}

type commandInput struct {
	Number string `path:"number" pattern:"^[A-Za-z0-9_-]{1,32}$" doc:"Vehicle number"`
	Body   VehicleCommandInput
}

type commandOutput struct{ Body VehicleCommandResult }

func (s *Service) registerCommands(api *adminapi.API) {
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-vehicle-command", Method: http.MethodPost, Path: adminapi.Prefix + "/fleet/vehicles/{number}/commands",
		Summary: "Send a protocol command to a vehicle", Tags: []string{"Fleet"},
		Description: "Validates the command against the protocol registry, sends it through the city's gateway and returns the scooter's reply. " +
			"Codes 23 and 67 (firmware exchange) are refused: use firmware jobs. The command and its outcome are audited (action vehicle.command). " +
			"503 gateway_unavailable: no gateway of the city is connected (not sent); 504 gateway_timeout: the gateway did not answer; " +
			"504 vehicle_timeout: the scooter did not reply in time or stayed offline.",
	}, adminapi.Requires(admin.PermVehiclesCommand), []int{http.StatusNotFound, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
		func(ctx context.Context, in *commandInput) (*commandOutput, error) {
			p, _ := adminapi.Actor(ctx)
			res, err := s.Command(ctx, p, in.Number, in.Body)
			if err != nil {
				return nil, s.problem("vehicle command", err)
			}
			return &commandOutput{Body: res}, nil
		})
}

// parsedCommand is a command validated against the registry, with its wire fields.
type parsedCommand struct {
	code   int
	fields map[string]json.RawMessage
}

// parseCommand validates a command against the protocol registry. Errors name the location
// in the body ("body.code", "body.fields.<key>").
func parseCommand(code int, fields map[string]any) (parsedCommand, error) {
	spec, ok := protocol.Lookup(protocol.Code(code))
	switch {
	case !ok:
		return parsedCommand{}, invalidAt("body.code", "unknown protocol code %d", code)
	case spec.Direction != protocol.ToScooter:
		return parsedCommand{}, invalidAt("body.code", "code %d (%s) is a scooter→server message, not a command", code, spec.Name)
	case code == int(protocol.CodeStartUpgrade) || code == int(protocol.CodeFirmwarePackage):
		return parsedCommand{}, invalidAt("body.code", "code %d (%s) belongs to the firmware exchange: create a firmware job", code, spec.Name)
	}
	if _, err := protocol.NewCommand(protocol.Code(code), fields); err != nil {
		var ve *protocol.ValidationError
		if errors.As(err, &ve) && ve.Field != "" && ve.Field != "a" {
			return parsedCommand{}, invalidAt("body.fields."+ve.Field, "%s", ve.Error())
		}
		return parsedCommand{}, invalidAt("body.fields", "%s", err.Error())
	}
	raw := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		if k == "a" {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return parsedCommand{}, invalidAt("body.fields."+k, "not encodable: %v", err)
		}
		raw[k] = b
	}
	return parsedCommand{code: code, fields: raw}, nil
}

// Command validates and sends one command to a vehicle and returns the scooter's outcome. The
// outcome (or why there is none) is audited as vehicle.command.
func (s *Service) Command(ctx context.Context, p audit.Actor, number string, in VehicleCommandInput) (VehicleCommandResult, error) {
	cmd, err := parseCommand(in.Code, in.Fields)
	if err != nil {
		return VehicleCommandResult{}, err
	}
	city, _, err := s.locate(ctx, number)
	if err != nil {
		return VehicleCommandResult{}, err
	}
	sender := s.cfg.Commands()
	if sender == nil {
		return VehicleCommandResult{}, fmt.Errorf("%w: this cloud process has no link to the gateways", ErrUnavailable)
	}
	req := link.CommandRequest{V: link.Version, ID: "admin-" + newID(), Vehicle: number, Code: cmd.code, Fields: cmd.fields,
		Source: "admin:" + p.AdminID, TimeoutMs: in.TimeoutMs}
	res, sendErr := sender.SendCommand(ctx, city, req)
	outcome := string(res.Outcome)
	switch {
	case errors.Is(sendErr, downlink.ErrNoGateway):
		outcome = "no_gateway"
	case errors.Is(sendErr, downlink.ErrNoReply):
		outcome = "no_reply"
	case sendErr != nil:
		outcome = "error"
	}
	details := map[string]any{"command_id": req.ID, "city": string(city), "code": cmd.code, "fields": cmd.fields,
		"outcome": outcome}
	if sendErr == nil {
		details["reply_code"], details["error"], details["attempts"] = res.ReplyCode, res.Error, res.Attempts
		if res.Status != nil {
			details["status"] = *res.Status
		}
	} else {
		details["error"] = sendErr.Error()
	}
	// The audit outlives the request's cancellation: the command may have reached the scooter.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := pgx.BeginFunc(actx, s.cfg.PG, func(tx pgx.Tx) error {
		_, err := audit.Record(actx, tx, audit.Entry{Actor: p, Action: "vehicle.command", TargetType: "vehicle",
			TargetID: number, Details: details})
		return err
	}); err != nil {
		return VehicleCommandResult{}, fmt.Errorf("fleetops: audit command %s: %w", req.ID, err)
	}
	if sendErr != nil {
		return VehicleCommandResult{}, sendErr
	}
	switch res.Outcome {
	case link.OutcomeTimeout, link.OutcomeExpired:
		return VehicleCommandResult{}, adminapi.NewProblem(http.StatusGatewayTimeout, CodeVehicleTimeout,
			fmt.Sprintf("the scooter did not reply (%s): %s", res.Outcome, res.Error))
	}
	out := VehicleCommandResult{ID: req.ID, Vehicle: number, City: string(city), Code: cmd.code, Outcome: string(res.Outcome),
		ReplyCode: res.ReplyCode, Reply: decodeObject(res.Reply), Error: res.Error, Attempts: res.Attempts, LatencyMs: res.LatencyMs}
	if res.Status != nil {
		out.HasStatus, out.Status = true, *res.Status
	}
	return out, nil
}

// newID returns a random UUID v4 (command ids, job ids).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// decodeObject decodes a JSON object, or returns nil for anything else.
func decodeObject(raw []byte) map[string]any {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}
