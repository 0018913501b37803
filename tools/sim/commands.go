package sim

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// mask is the presence mask of a reply: a, i and the given field keys, so
// that a reply carries exactly the fields PROTOCOL.md lists for it.
func mask(keys string) protocol.FieldMask {
	m := protocol.FieldMask(0).With('a').With('i')
	for i := 0; i < len(keys); i++ {
		m = m.With(keys[i])
	}
	return m
}

// action is what a command makes the connection do after the reply.
type action int

const (
	actNone   action = iota
	actReboot        // drop the connection and stay offline for RebootDelay
)

// onCommand handles one payload received on the vehicle topic: it records
// it, changes the scooter's state and returns the reply (if any) to publish
// now, as the firmware would. Caller does not hold mu. rec is nil for the
// scooter's own echo (78 on its topic), which is ignored.
func (s *scooter) onCommand(payload []byte) ([]out, action, *CommandRecord) {
	at := s.f.cfg.Clock.Now()
	cmd, derr := protocol.DecodeCommand(payload)
	if derr != nil {
		// The vehicle topic also carries the scooter's own 78 (log reply):
		// the firmware hears its echo and ignores it.
		if m, err := protocol.Decode(string(s.id), payload); err == nil {
			if _, isReport := m.(protocol.Report); isReport {
				return nil, actNone, nil
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := CommandRecord{At: at, LimitKmh: -1, LastFix: s.fixSeq}
	if derr != nil {
		rec.Err = derr.Error()
		rec.Code = codeOf(payload)
		s.f.stats.badCommands.Add(1)
	} else {
		rec.Code = int(cmd.Code())
	}
	if c, ok := cmd.(*protocol.SetSpeedLimit); ok {
		rec.LimitKmh = c.KMH
		// Claim the latest crossing published before arrival not yet claimed.
		if n := len(s.crossings); n > 0 {
			last := s.crossings[n-1]
			if last.Fix.Seq > s.claimed {
				s.claimed = last.Fix.Seq
				rec.Crossing = &last
				rec.Latency = at.Sub(last.Fix.At)
				s.f.recordLatency(rec.Latency)
			}
		}
	}
	s.commands = appendCapped(s.commands, rec, s.f.cfg.History)
	s.f.stats.commands.Add(1)
	var outs []out
	act := actNone
	if derr != nil {
		// A 13 outside 2000–2030 is refused with 14 s=1; anything else
		// undecodable is ignored, as the firmware would.
		var de *protocol.DecodeError
		if rec.Code == int(protocol.CodeSetSpeedLimit) && errors.As(derr, &de) && de.Kind == protocol.ErrRange {
			outs = s.reply(outs, &protocol.SetSpeedLimitReply{Header: protocol.Header{From: s.id, Present: mask("ts")},
				Ack: protocol.Ack{Nonce: s.nonce(), Status: protocol.StatusFailed}})
		}
		return outs, act, &rec
	}
	outs, act = s.apply(cmd, at, outs)
	return outs, act, &rec
}

// apply runs a decoded command. Caller holds mu.
func (s *scooter) apply(cmd protocol.Command, at time.Time, outs []out) ([]out, action) {
	h := func(keys string) protocol.Header { return protocol.Header{From: s.id, Present: mask(keys)} }
	ack := func(st protocol.Status) protocol.Ack { return protocol.Ack{Status: st} }
	op := func(st protocol.Status) protocol.OpResult {
		s.serial++
		return protocol.OpResult{Nonce: s.nonce(), Status: st, Serial: int64(s.serial)}
	}
	busy := protocol.StatusOK
	if s.up.active {
		busy = protocol.StatusUpgrading
	}
	switch c := cmd.(type) {
	case *protocol.PowerOn:
		if busy == protocol.StatusOK {
			s.powerOn(false)
		}
		outs = s.reply(outs, &protocol.PowerOnReply{Header: h("tsn"), OpResult: op(busy)})
	case *protocol.PowerOff:
		if busy == protocol.StatusOK {
			s.powerOff()
		}
		outs = s.reply(outs, &protocol.PowerOffReply{Header: h("tsn"), OpResult: op(busy)})
	case *protocol.ClearRideMileage:
		s.rideM = 0
		outs = s.reply(outs, &protocol.ClearRideMileageReply{Header: h("tsn"), OpResult: op(protocol.StatusOK)})
	case *protocol.ClearRideTime:
		s.rideS = 0
		outs = s.reply(outs, &protocol.ClearRideTimeReply{Header: h("tsn"), OpResult: op(protocol.StatusOK)})
	case *protocol.ClearTotalMileage:
		s.totalM = 0
		outs = s.reply(outs, &protocol.ClearTotalMileageReply{Header: h("tsn"), OpResult: op(protocol.StatusOK)})
	case *protocol.ClearTotalTime:
		s.totalS = 0
		outs = s.reply(outs, &protocol.ClearTotalTimeReply{Header: h("tsn"), OpResult: op(protocol.StatusOK)})
	case *protocol.SetSpeedLimit:
		s.limit = c.KMH
		outs = s.reply(outs, &protocol.SetSpeedLimitReply{Header: h("ts"), Ack: protocol.Ack{Nonce: s.nonce()}})
	case *protocol.QueryParams:
		power := 1
		if s.powered {
			power = 0
		}
		outs = s.reply(outs, &protocol.VehicleParams{Header: h("skpebyqwzc"),
			SpeedLimit: s.limit, Speed: math.Round(s.speed*10) / 10, Battery: int(math.Round(s.battery)),
			TotalTime: int64(s.totalS), TotalMileage: math.Round(s.totalM/100) / 10,
			RideTime: int64(s.rideS), RideMileage: math.Round(s.rideM/100) / 10, Power: power})
	case *protocol.QueryGPS:
		if pkt, ok := s.fix(at, true); ok {
			outs = s.replyOut(outs, pkt)
		}
	case *protocol.Reboot:
		return outs, actReboot
	case *protocol.QueryVersion:
		power := 1
		if s.powered {
			power = 0
		}
		outs = s.reply(outs, &protocol.VersionReply{Header: h("hfcmst"), Hardware: "FR-IOT-4G-V2",
			Firmware: s.firmware, SIM: s.iccid(), IMEI: s.imei(), Power: power, Nonce: s.nonce()})
	case *protocol.StartUpgrade:
		st := protocol.StatusOK
		if s.powered || c.Packages <= 0 {
			st = protocol.StatusFailed // never upgrade under a rider
		} else {
			s.up = upgrade{active: true, packages: c.Packages, got: map[int]bool{}, failures: map[int]int{}}
		}
		outs = s.reply(outs, &protocol.StartUpgradeReply{Header: h("s"), Ack: ack(st)})
	case *protocol.FirmwarePackage:
		if !s.up.active {
			outs = s.reply(outs, &protocol.FirmwarePackageReply{Header: h("xs"), Serial: c.Serial, Status: protocol.StatusFailed})
			break
		}
		if s.take(FaultFirmwareFail) {
			s.up.failures[c.Serial]++
			if s.up.failures[c.Serial] > 5 {
				// The module gives up, reboots, and the upgrade starts over.
				s.up = upgrade{}
				return outs, actReboot
			}
			outs = s.reply(outs, &protocol.FirmwarePackageReply{Header: h("xs"), Serial: c.Serial, Status: protocol.StatusFailed})
			break
		}
		s.up.got[c.Serial] = true
		outs = s.reply(outs, &protocol.FirmwarePackageReply{Header: h("xs"), Serial: c.Serial})
		if len(s.up.got) >= s.up.packages {
			s.up = upgrade{}
			s.firmware = nextFirmware(s.firmware)
			s.updated = true
			// 69 is unsolicited: not subject to reply faults.
			outs = s.report(outs, &protocol.UpgradeResult{Header: h("s")}, "")
		}
	case *protocol.QueryIMEI:
		outs = s.reply(outs, &protocol.IMEIReply{Header: h("ht"), IMEI: s.imei(), Nonce: s.nonce()})
	case *protocol.Buzzer, *protocol.SpecialBuzzer:
		s.buzzes++
	case *protocol.SetServerParamsLegacy:
		if c.GPSInterval > 0 {
			s.gpsInterval = time.Duration(c.GPSInterval) * time.Second
			s.nextGPS = at.Add(s.gpsInterval)
		}
		if c.HeartbeatInterval > 0 {
			s.hbInterval = time.Duration(c.HeartbeatInterval) * time.Second
			s.nextHB = at.Add(s.hbInterval)
		}
		outs = s.reply(outs, &protocol.SetServerParamsLegacyReply{Header: h("s")})
	case *protocol.QueryServerParams:
		host, port := s.f.brokerHostPort()
		u := fmt.Sprintf("%s,%s,%s,%s,%s,%d", host, port, s.cred.ID, s.cred.Secret, s.cred.ID, int(s.gpsInterval/time.Second))
		outs = s.reply(outs, &protocol.ServerParamsReply{Header: h("u"), Params: u})
	case *protocol.SetHeadlight:
		st := protocol.StatusOK
		if s.lampMode != 0 {
			st = protocol.StatusFailed // only in lamp mode "command control"
		}
		outs = s.reply(outs, &protocol.SetHeadlightReply{Header: h("s"), Ack: ack(st)})
	case *protocol.SetVibration:
		s.vibSens = c.Sensitivity
		outs = s.reply(outs, &protocol.SetVibrationReply{Header: h("s")})
	case *protocol.SetDistanceUnit:
		st := protocol.StatusOK
		if s.powered {
			st = protocol.StatusFailed // only while powered off
		}
		outs = s.reply(outs, &protocol.SetDistanceUnitReply{Header: h("s"), Ack: ack(st)})
	case *protocol.SetLampMode:
		st := protocol.StatusFailed
		if s.powered { // only while powered on
			st = protocol.StatusOK
			s.lampMode = int(c.Mode)
		}
		outs = s.reply(outs, &protocol.SetLampModeReply{Header: h("s"), Ack: ack(st)})
	case *protocol.SetAssistLevel:
		outs = s.reply(outs, &protocol.SetAssistLevelReply{Header: h("s")})
	case *protocol.SetAPN:
		outs = s.reply(outs, &protocol.SetAPNReply{Header: h("s")}) // 54 goes to "o" (registry)
	case *protocol.BatteryUnlock:
		if busy == protocol.StatusOK {
			s.batteryOpen = true
		}
		outs = s.reply(outs, &protocol.BatteryUnlockReply{Header: h("s"), Ack: ack(busy)})
	case *protocol.BatteryLock:
		if busy == protocol.StatusOK && s.batteryOpen {
			// 60 then 62 is a field technician's swap: a full pack goes in.
			s.batteryOpen, s.battery = false, 100
		}
		outs = s.reply(outs, &protocol.BatteryLockReply{Header: h("s"), Ack: ack(busy)})
	case *protocol.ChainUnlock:
		if busy == protocol.StatusOK {
			s.chainOpen = true
		}
		outs = s.reply(outs, &protocol.ChainUnlockReply{Header: h("s"), Ack: ack(busy)})
	case *protocol.Pause:
		st := protocol.StatusFailed
		if s.powered {
			s.paused, st = true, protocol.StatusOK
		}
		outs = s.reply(outs, &protocol.PauseReply{Header: h("s"), Ack: ack(st)})
	case *protocol.Resume:
		st := protocol.StatusFailed
		if s.powered && s.paused {
			s.paused, st = false, protocol.StatusOK
		}
		outs = s.reply(outs, &protocol.ResumeReply{Header: h("s"), Ack: ack(st)})
	case *protocol.QueryLog:
		// 78 goes to the vehicle topic (registry).
		outs = s.reply(outs, &protocol.LogReply{Header: h("bcdefg"),
			B: "boot ok", C: "gps fix 3d", D: "net 4g attached", E: fmt.Sprintf("bat %.0f%%", s.battery),
			F: "fw " + s.firmware, G: fmt.Sprintf("lim %d", s.limit)})
	case *protocol.QueryChainLock:
		st := protocol.Status(0)
		if s.chainOpen {
			st = 1
		}
		outs = s.reply(outs, &protocol.ChainLockState{Header: h("s"), Ack: ack(st)})
	case *protocol.RebootIfUpdated:
		if s.updated {
			s.updated = false
			return outs, actReboot
		}
	case *protocol.QuerySignal:
		outs = s.reply(outs, &protocol.SignalReply{Header: h("x"), Level: 15 + s.rng.IntN(17)})
	case *protocol.SetServerParams:
		s.params = c.Host + ":" + strconv.Itoa(c.Port)
		outs = s.reply(outs, &protocol.SetServerParamsReply{Header: s.header102()})
	case *protocol.SetSerialNumber:
		outs = s.reply(outs, &protocol.SetSerialNumberReply{Header: h("s")})
	case *protocol.MotorUnlock:
		s.motorLocked = false
		outs = s.reply(outs, &protocol.MotorUnlockReply{Header: h("s")})
	case *protocol.MotorLock:
		s.motorLocked = true
		outs = s.reply(outs, &protocol.MotorLockReply{Header: h("s")})
	}
	return outs, actNone
}

// header102 is 102's header; in quirk mode it is the sheet's own
// {"a":102,"i":"12AB","s":} (the status left empty). Caller holds mu.
func (s *scooter) header102() protocol.Header {
	if r := s.f.cfg.QuirkRate; r > 0 && s.rng.Float64() < r/4 {
		return protocol.Header{From: s.id, Present: mask("")}
	}
	return protocol.Header{From: s.id, Present: mask("s")}
}

// reply encodes a command's reply and sends, delays or drops it per the
// reply faults. Caller holds mu.
func (s *scooter) reply(outs []out, r protocol.Report) []out {
	q := s.quirks()
	if r.Code() == protocol.CodeSetServerParamsReply && !r.Fields().Has('s') {
		q.EmptyValues = protocol.FieldMask(0).With('s')
	}
	pkt, err := protocol.EncodeReport(r, q)
	if err != nil {
		s.f.stats.encodeErrors.Add(1)
		s.f.log.Warn("encode reply", "vehicle", s.cred.ID, "code", int(r.Code()), "err", err)
		return outs
	}
	return s.replyOut(outs, out{topic: pkt.Topic, qos: pkt.QoS, payload: pkt.Payload})
}

func (s *scooter) replyOut(outs []out, o out) []out {
	switch {
	case s.take(FaultMissingAck):
		s.f.stats.droppedReplies.Add(1)
		return outs
	case s.take(FaultLateAck):
		o.at = s.f.cfg.Clock.Now().Add(s.lateDelay())
		s.delayed = append(s.delayed, o)
		return outs
	}
	return append(outs, o)
}

// nonce is the reply's "random number" t. Caller holds mu.
func (s *scooter) nonce() int64 { return 1_000_000_000 + s.rng.Int64N(1_000_000_000) }

// imei is a stable 15-digit IMEI for the scooter.
func (s *scooter) imei() string { return fmt.Sprintf("8612345%08d", s.idx%100_000_000) }

// iccid is a stable SIM number (Spanish ICCID prefix 8934).
func (s *scooter) iccid() string { return fmt.Sprintf("8934071%012d", s.idx) }

// nextFirmware bumps the patch number of "FWx.y.z".
func nextFirmware(fw string) string {
	i := bytes.LastIndexByte([]byte(fw), '.')
	if i < 0 {
		return fw + ".1"
	}
	n, err := strconv.Atoi(fw[i+1:])
	if err != nil {
		return fw + ".1"
	}
	return fw[:i+1] + strconv.Itoa(n+1)
}

// codeOf extracts "a" from an undecodable payload for the record (0 if none).
func codeOf(p []byte) int {
	i := bytes.Index(p, []byte(`"a":`))
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range p[i+4:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1<<16 {
			return 0
		}
	}
	return n
}
