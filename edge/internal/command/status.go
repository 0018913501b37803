package command

import "github.com/fleetedge/fleetedge/protocol"

// replyStatus returns the result status of a reply whose "s" is a success /
// failure code, and whether it carried one. Replies whose "s" is a state
// rather than a result (84 chain lock open/closed, 22 powered on/off, 16) and
// replies without "s" report false: receiving them is the success.
func replyStatus(r protocol.Report) (protocol.Status, bool) {
	if !has(r, 's') {
		return 0, false
	}
	switch m := r.(type) {
	case *protocol.PowerOnReply:
		return m.Status, true
	case *protocol.PowerOffReply:
		return m.Status, true
	case *protocol.ClearRideMileageReply:
		return m.Status, true
	case *protocol.ClearRideTimeReply:
		return m.Status, true
	case *protocol.ClearTotalMileageReply:
		return m.Status, true
	case *protocol.ClearTotalTimeReply:
		return m.Status, true
	case *protocol.SetSpeedLimitReply:
		return m.Status, true
	case *protocol.SetServerParamsLegacyReply:
		return m.Status, true
	case *protocol.SetHeadlightReply:
		return m.Status, true
	case *protocol.SetVibrationReply:
		return m.Status, true
	case *protocol.SetDistanceUnitReply:
		return m.Status, true
	case *protocol.SetLampModeReply:
		return m.Status, true
	case *protocol.SetAssistLevelReply:
		return m.Status, true
	case *protocol.SetAPNReply:
		return m.Status, true
	case *protocol.BatteryUnlockReply:
		return m.Status, true
	case *protocol.BatteryLockReply:
		return m.Status, true
	case *protocol.StartUpgradeReply:
		return m.Status, true
	case *protocol.FirmwarePackageReply:
		return m.Status, true
	case *protocol.UpgradeResult:
		return m.Status, true
	case *protocol.ChainUnlockReply:
		return m.Status, true
	case *protocol.PauseReply:
		return m.Status, true
	case *protocol.ResumeReply:
		return m.Status, true
	case *protocol.SetServerParamsReply:
		return m.Status, true
	case *protocol.SetSerialNumberReply:
		return m.Status, true
	case *protocol.MotorUnlockReply:
		return m.Status, true
	case *protocol.MotorLockReply:
		return m.Status, true
	}
	return 0, false
}

// correlates reports whether reply r can answer command c beyond its code.
// Only 67/68 carry a real correlator (the package serial x); everything else
// matches by code alone (PROTOCOL.md quirk 7).
func correlates(c protocol.Command, r protocol.Report) bool {
	if pkg, ok := c.(*protocol.FirmwarePackage); ok {
		rep, ok := r.(*protocol.FirmwarePackageReply)
		return ok && (!has(rep, 'x') || rep.Serial == pkg.Serial)
	}
	return true
}

// has reports whether r carried the field; a zero mask (a value built by
// hand, not decoded) means every field.
func has(r protocol.Report, key byte) bool {
	f := r.Fields()
	return f == 0 || f.Has(key)
}
