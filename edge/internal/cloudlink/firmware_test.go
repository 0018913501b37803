package cloudlink

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestFirmwareRequest: a link.FirmwareRequest (command subject, KindHeader firmware) starts a
// real upgrade job in the command manager: the scooter gets 23 with the package count and
// every package, and once it reports 69 the job is gone. A bad digest, a second request while
// one runs and a request without the header (read as a command) are refused.
func TestFirmwareRequest(t *testing.T) {
	const v = "861123456789012"
	srv := startNATS(t, t.TempDir(), -1)
	w := newGatewayWorld(t, v)
	runLink(t, Config{Conn: dialGateway(t, srv.ClientURL()), Commands: w.commands, Store: openStore(t, t.TempDir()),
		Applier: &applier{}})

	var mu sync.Mutex
	var packages []int
	var data bytes.Buffer
	start := 0
	release := make(chan struct{}) // the last package is answered once the test says so
	w.scooter(t, v, func(c paho.Client, cmd protocol.Command) {
		h := protocol.Header{From: v}
		switch m := cmd.(type) {
		case *protocol.StartUpgrade:
			mu.Lock()
			start = m.Packages
			mu.Unlock()
			reply(t, c, &protocol.StartUpgradeReply{Header: h})
		case *protocol.FirmwarePackage:
			mu.Lock()
			packages = append(packages, m.Serial)
			data.Write(m.Data)
			last := len(packages) == start
			mu.Unlock()
			if last {
				go func() { // not on paho's goroutine: it would block the next message
					<-release
					reply(t, c, &protocol.FirmwarePackageReply{Header: h, Serial: m.Serial})
					reply(t, c, &protocol.UpgradeResult{Header: h})
				}()
				return
			}
			reply(t, c, &protocol.FirmwarePackageReply{Header: h, Serial: m.Serial})
		}
	})
	waitSubscribed(t, srv)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ask := func(req link.FirmwareRequest, header bool) link.FirmwareAccepted {
		t.Helper()
		body, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(link.CommandSubject(testCity))
		if header {
			msg.Header.Set(link.KindHeader, link.KindFirmware)
		}
		msg.Data = body
		resp, err := nc.RequestMsg(msg, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var acc link.FirmwareAccepted
		if err := json.Unmarshal(resp.Data, &acc); err != nil {
			t.Fatalf("answer %s: %v", resp.Data, err)
		}
		return acc
	}
	image := bytes.Repeat([]byte{0xA5, 0x5A, 0x01}, 1000) // 3000 bytes: 3 packages
	req := link.FirmwareRequest{V: link.Version, JobID: link.FirmwareJobID("job-1", v), Vehicle: v, Image: image,
		SHA256: link.FirmwareDigest(image), Source: "admin:7"}

	bad := req
	bad.SHA256 = link.FirmwareDigest([]byte("other"))
	if acc := ask(bad, true); acc.Accepted || !strings.Contains(acc.Error, "sha256") || acc.JobID != req.JobID {
		t.Errorf("bad digest: %+v", acc)
	}
	if acc := ask(req, true); !acc.Accepted || acc.JobID != req.JobID || acc.Vehicle != v || acc.Error != "" {
		t.Fatalf("start: %+v", acc)
	}
	waitFor(t, "the last package at the scooter", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(packages) == 3
	})
	if acc := ask(req, true); acc.Accepted || !strings.Contains(acc.Error, "already running") {
		t.Errorf("second start while running: %+v", acc)
	}
	if acc := ask(req, false); acc.Accepted { // decoded as a command request: rejected
		t.Errorf("without the header: %+v", acc)
	}
	u, ok := w.commands.UpgradeOf(v)
	if !ok || u.Progress().JobID != req.JobID || u.Progress().Total != 3 {
		t.Fatalf("running job: %v %+v", ok, u)
	}
	close(release)
	select {
	case <-u.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not end")
	}
	if p := u.Progress(); p.State != command.UpgradeSucceeded || p.Sent != 3 || p.Err != nil {
		t.Errorf("job ended %+v", p)
	}
	mu.Lock()
	defer mu.Unlock()
	if start != 3 || len(packages) != 3 || packages[0] != 0 || packages[2] != 2 || !bytes.Equal(data.Bytes(), image) {
		t.Errorf("scooter saw 23 l=%d, packages %v, %d bytes (image intact: %v)", start, packages, data.Len(), bytes.Equal(data.Bytes(), image))
	}
}
