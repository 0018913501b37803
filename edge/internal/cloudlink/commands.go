package cloudlink

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// onRequest runs on the subscription's goroutine: it only queues the request,
// so a slow command never delays the next request's acceptance.
func (l *Link) onRequest(msg *nats.Msg) {
	if msg.Reply == "" {
		l.countRequest(link.OutcomeRejected)
		l.log.Warn("command request without reply subject dropped", "bytes", len(msg.Data))
		return
	}
	select {
	case l.jobs <- msg:
	default:
		l.respond(msg, rejected(decodeLoose(msg.Data), ErrBusy))
	}
}

// worker handles queued requests until ctx ends.
func (l *Link) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-l.jobs:
			if isFirmware(msg) {
				l.respondFirmware(msg, l.handleFirmware(msg.Data))
				continue
			}
			l.respond(msg, l.handle(ctx, msg.Data))
		}
	}
}

// handle turns one request body into its result; it never panics on input.
func (l *Link) handle(ctx context.Context, data []byte) link.CommandResult {
	var req link.CommandRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return rejected(decodeLoose(data), fmt.Errorf("%w: %v", ErrMalformed, err))
	}
	if err := req.Validate(); err != nil {
		return rejected(req, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	wait := l.cfg.DefaultWait
	if req.TimeoutMs > 0 {
		wait = time.Duration(req.TimeoutMs)*time.Millisecond + l.cfg.ReplyGrace
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return l.cfg.Commands.HandleRequest(wctx, req)
}

// decodeLoose recovers what identity it can from a body that failed to decode
// or validate, so the rejection can be matched by the caller.
func decodeLoose(data []byte) link.CommandRequest {
	var id struct {
		ID      any `json:"id"`
		Vehicle any `json:"vehicle"`
		Code    any `json:"code"`
		Source  any `json:"source"`
	}
	var req link.CommandRequest
	if json.Unmarshal(data, &id) != nil {
		return req
	}
	req.ID, _ = id.ID.(string)
	req.Vehicle, _ = id.Vehicle.(string)
	req.Source, _ = id.Source.(string)
	if f, ok := id.Code.(float64); ok && f == float64(int(f)) {
		req.Code = int(f)
	}
	return req
}

func rejected(req link.CommandRequest, err error) link.CommandResult {
	return link.CommandResult{V: link.Version, ID: req.ID, Vehicle: req.Vehicle, Code: req.Code, Source: req.Source,
		Outcome: link.OutcomeRejected, Error: err.Error()}
}

// respond sends res as the reply to msg. While the connection is down the
// reply fails fast (the caller has timed out by the time it is back anyway).
func (l *Link) respond(msg *nats.Msg, res link.CommandResult) {
	l.countRequest(res.Outcome)
	data, err := json.Marshal(res)
	if err != nil {
		// Only a malformed Reply (raw JSON) can fail; answer without it.
		res.Reply = nil
		res.Error = fmt.Sprintf("%s (reply not encodable: %v)", res.Error, err)
		if data, err = json.Marshal(res); err != nil {
			l.log.Error("command result not encodable", "id", res.ID, "err", err)
			return
		}
	}
	if err := msg.Respond(data); err != nil {
		l.countReplyError()
		l.log.Warn("command reply not sent", "id", res.ID, "vehicle", res.Vehicle, "outcome", res.Outcome, "err", err)
		return
	}
	if res.Outcome == link.OutcomeRejected {
		l.log.Info("command request rejected", "id", res.ID, "vehicle", res.Vehicle, "code", res.Code, "err", res.Error)
	}
}
