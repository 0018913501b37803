package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fleetedge/fleetedge/protocol"
)

// protocolCommand is "fleetctl protocol": the scooter protocol's registry and a
// decoder for captured traffic.
func protocolCommand() command {
	return command{
		name:    "protocol",
		summary: "the scooter protocol: registry of messages, decoding captured traffic",
		subs: []command{
			{
				name:    "list",
				summary: "every message code with direction, topic, QoS, reply and fields",
				setup: func(fs *flag.FlagSet) leafFunc {
					asJSON := fs.Bool("json", false, "print the registry as a JSON array")
					return func(_ context.Context, s streams, args []string) error {
						if len(args) != 0 {
							return usagef([]string{"protocol", "list"}, "unexpected arguments %q", args)
						}
						if *asJSON {
							return listJSON(s.out)
						}
						return listTable(s.out)
					}
				},
			},
			{
				name:    "decode",
				summary: "decode lines \"TOPIC PAYLOAD\" from stdin, one JSON object per line",
				long: "Reads lines of the form TOPIC PAYLOAD (the topic, one space or tab, the raw payload)\n" +
					"from standard input, e.g. captured with `mosquitto_sub -v -t bike`, and prints for each\n" +
					"one JSON object: {\"topic\", \"code\", \"name\", \"message\"} for a decoded message or\n" +
					"{\"topic\", \"payload\", \"error\", \"kind\"} for one that does not decode. Blank lines are\n" +
					"skipped. The exit status is 0 unless standard input cannot be read.",
				setup: func(*flag.FlagSet) leafFunc { return decodeLines },
			},
		},
	}
}

// specJSON is the registry entry as printed by `protocol list --json`.
type specJSON struct {
	Code        int         `json:"code"`
	Name        string      `json:"name"`
	Direction   string      `json:"direction"`
	Topic       string      `json:"topic"`
	QoS         byte        `json:"qos"`
	Reply       *int        `json:"reply,omitempty"`
	ReplyTo     *int        `json:"reply_to,omitempty"`
	Unsolicited bool        `json:"unsolicited,omitempty"`
	Deprecated  bool        `json:"deprecated,omitempty"`
	Removed     bool        `json:"removed,omitempty"`
	Fields      []fieldJSON `json:"fields"`
	Note        string      `json:"note,omitempty"`
}

type fieldJSON struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Meaning  string `json:"meaning,omitempty"`
	Type     string `json:"type"`
	Unit     string `json:"unit,omitempty"`
	Min      int64  `json:"min"`
	Max      int64  `json:"max"`
	Required bool   `json:"required,omitempty"`
}

func toSpecJSON(sp protocol.Spec) specJSON {
	j := specJSON{
		Code: int(sp.Code), Name: sp.Name, Direction: sp.Direction.String(), Topic: sp.Topic.String(),
		QoS: sp.QoS, Unsolicited: sp.Unsolicited, Deprecated: sp.Deprecated, Removed: sp.Removed,
		Note: sp.Note, Fields: make([]fieldJSON, 0, len(sp.Fields)),
	}
	if sp.HasReply {
		r := int(sp.Reply)
		j.Reply = &r
	}
	if sp.ReplyTo != 0 {
		r := int(sp.ReplyTo)
		j.ReplyTo = &r
	}
	for _, f := range sp.Fields {
		j.Fields = append(j.Fields, fieldJSON{Key: f.Key, Name: f.Name, Meaning: f.Meaning, Type: f.Type.String(),
			Unit: f.Unit, Min: f.Min, Max: f.Max, Required: f.Required})
	}
	return j
}

func listJSON(w io.Writer) error {
	specs := protocol.Specs()
	out := make([]specJSON, 0, len(specs))
	for _, sp := range specs {
		out = append(out, toSpecJSON(sp))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func listTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tNAME\tDIRECTION\tTOPIC\tQOS\tREPLY\tFIELDS\tNOTES")
	for _, sp := range protocol.Specs() {
		reply := "-"
		if sp.HasReply {
			reply = strconv.Itoa(int(sp.Reply))
		}
		fields := make([]string, 0, len(sp.Fields))
		for _, f := range sp.Fields {
			d := f.Key + "=" + f.Name
			if f.Unit != "" {
				d += "[" + f.Unit + "]"
			}
			fields = append(fields, d)
		}
		var notes []string
		if sp.Deprecated {
			notes = append(notes, "deprecated")
		}
		if sp.Removed {
			notes = append(notes, "removed")
		}
		if sp.Unsolicited {
			notes = append(notes, "unsolicited")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", sp.Code, sp.Name, sp.Direction, sp.Topic, sp.QoS,
			reply, strings.Join(fields, " "), strings.Join(notes, ","))
	}
	return tw.Flush()
}

type decodedLine struct {
	Topic   string           `json:"topic"`
	Code    int              `json:"code,omitempty"`
	Name    string           `json:"name,omitempty"`
	Message protocol.Message `json:"message,omitempty"`
	Payload string           `json:"payload,omitempty"`
	Error   string           `json:"error,omitempty"`
	Kind    string           `json:"kind,omitempty"`
}

// maxLine bounds one input line: a payload above protocol.MaxPayload is reported
// as too large by the decoder, a line far beyond that is cut here.
const maxLine = 4 * protocol.MaxPayload

func decodeLines(_ context.Context, s streams, args []string) error {
	if len(args) != 0 {
		return usagef([]string{"protocol", "decode"}, "unexpected arguments %q (input comes from stdin)", args)
	}
	r := bufio.NewReaderSize(s.in, 64*1024)
	enc := json.NewEncoder(s.out)
	enc.SetEscapeHTML(false)
	for {
		line, err := readLine(r)
		if len(line) > 0 {
			if werr := enc.Encode(decodeLine(line)); werr != nil {
				return fmt.Errorf("protocol decode: write: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("protocol decode: read stdin: %w", err)
		}
	}
}

// readLine returns the next line without its end of line, capped at maxLine bytes
// (the rest of an over-long line is read and discarded).
func readLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		chunk, err := r.ReadSlice('\n')
		if b.Len() < maxLine {
			room := maxLine - b.Len()
			if len(chunk) > room {
				chunk = chunk[:room]
			}
			b.Write(chunk)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return strings.TrimRight(b.String(), "\r\n"), err
	}
}

func decodeLine(line string) decodedLine {
	line = strings.TrimLeft(line, " \t")
	if strings.TrimSpace(line) == "" {
		return decodedLine{Error: "empty line"}
	}
	topic, payload, ok := strings.Cut(line, " ")
	if t, p, okTab := strings.Cut(line, "\t"); okTab && (!ok || len(t) < len(topic)) {
		topic, payload, ok = t, p, true
	}
	if !ok {
		return decodedLine{Topic: topic, Error: "expected TOPIC PAYLOAD", Kind: "input"}
	}
	payload = strings.TrimSpace(payload)
	m, err := protocol.Decode(topic, []byte(payload))
	if err != nil {
		out := decodedLine{Topic: topic, Payload: payload, Error: err.Error()}
		var de *protocol.DecodeError
		if errors.As(err, &de) {
			out.Kind = strings.TrimPrefix(de.Kind.Error(), "protocol: ")
		}
		if len(out.Payload) > 512 {
			out.Payload = out.Payload[:512] + "…"
		}
		return out
	}
	name := ""
	if sp, ok := protocol.Lookup(m.Code()); ok {
		name = sp.Name
	}
	return decodedLine{Topic: topic, Code: int(m.Code()), Name: name, Message: m}
}
