package protocol_test

import (
	"errors"
	"fmt"

	"github.com/fleetedge/fleetedge/protocol"
)

func ExampleDecode() {
	m, err := protocol.Decode("bike", []byte(`{"a":27,"i":"12AB","b":87,"c":1,"s":0,"r":37.5,"v":25,"x":3}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	switch x := m.(type) {
	case *protocol.Heartbeat:
		fmt.Println(x.Vehicle(), x.Battery, x.Voltage, x.Has('r'))
	}
	// Output: 12AB 87 37.5 true
}

func ExampleDecode_quirks() {
	// An empty value, a trailing comma, an IMEI as a 16-digit number.
	for _, p := range []string{
		`{"a":102,"i":"12AB","s":}`,
		`{"a":14,"i":"12AB","t":1503046415,"s":0,}`,
		`{"a":25,"i":"12AB","h":8612345678901234,"t":5}`,
	} {
		m, err := protocol.Decode("bike", []byte(p))
		if err != nil {
			fmt.Println(err)
			continue
		}
		r := m.(protocol.Report)
		fmt.Printf("%d %s fields=%s\n", m.Code(), r.Vehicle(), r.Fields())
	}
	_, err := protocol.Decode("bike", []byte(`{"a":27,"i":"12AB","b":150}`))
	var de *protocol.DecodeError
	fmt.Println(errors.Is(err, protocol.ErrRange), errors.As(err, &de) && de.Field == "b")
	// Output:
	// 102 12AB fields=ai
	// 14 12AB fields=aist
	// 25 12AB fields=ahit
	// true true
}

func ExampleEncodeCommand() {
	c, err := protocol.NewSetSpeedLimit(20)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := protocol.EncodeCommand("12AB", c)
	if err != nil {
		fmt.Println(err)
		return
	}
	reply, _ := protocol.ExpectedReply(c.Code())
	fmt.Println(p.Topic, p.QoS, string(p.Payload), int(reply), reply)
	// Output: 12AB 1 {"a":13,"k":2020} 14 set speed limit reply
}

func ExampleNewCommand() {
	// What the admin API's "send any protocol command" does.
	c, err := protocol.NewCommand(58, map[string]any{"v": 3, "i": 500, "L": 200})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := protocol.EncodeCommand("12AB", c)
	fmt.Println(string(p.Payload))
	_, err = protocol.NewCommand(39, map[string]any{"v": 100})
	fmt.Println(err)
	// Output:
	// {"a":58,"v":3,"i":500,"L":200}
	// protocol: invalid a=39 field "v": value out of range: valid range 0–99
}

func ExampleEncodeReport() {
	// A simulator answering 13 in the vendor's style.
	r := &protocol.SetSpeedLimitReply{Header: protocol.Header{From: "12AB"}, Ack: protocol.Ack{Nonce: 1503046415}}
	p, _ := protocol.EncodeReport(r, protocol.Quirks{TrailingComma: true})
	fmt.Println(p.Topic, string(p.Payload))
	// Output: bike {"a":14,"i":"12AB","t":1503046415,"s":0,}
}

func ExampleParseGPS() {
	g, err := protocol.ParseGPS("3020.5887,12006.4229,1")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := protocol.FormatGPS(g)
	fmt.Printf("%.6f %.6f %d %s\n", g.Lat, g.Lon, g.Business, s)
	// Output: 30.343145 120.107048 1 3020.5887,12006.4229,1,0
}
