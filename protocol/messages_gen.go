// Per-code boilerplate: Code methods, the command marker, and the decode
// switch. Written from the constants in code.go; TestRegistry and the round
// trip tests fail if a code is missing here.

package protocol

// Code returns 1.
func (*PowerOn) Code() Code { return CodePowerOn }

// Code returns 2.
func (*PowerOnReply) Code() Code { return CodePowerOnReply }

// Code returns 3.
func (*PowerOff) Code() Code { return CodePowerOff }

// Code returns 4.
func (*PowerOffReply) Code() Code { return CodePowerOffReply }

// Code returns 5.
func (*ClearRideMileage) Code() Code { return CodeClearRideMileage }

// Code returns 6.
func (*ClearRideMileageReply) Code() Code { return CodeClearRideMileageReply }

// Code returns 7.
func (*ClearRideTime) Code() Code { return CodeClearRideTime }

// Code returns 8.
func (*ClearRideTimeReply) Code() Code { return CodeClearRideTimeReply }

// Code returns 9.
func (*ClearTotalMileage) Code() Code { return CodeClearTotalMileage }

// Code returns 10.
func (*ClearTotalMileageReply) Code() Code { return CodeClearTotalMileageReply }

// Code returns 11.
func (*ClearTotalTime) Code() Code { return CodeClearTotalTime }

// Code returns 12.
func (*ClearTotalTimeReply) Code() Code { return CodeClearTotalTimeReply }

// Code returns 13.
func (*SetSpeedLimit) Code() Code { return CodeSetSpeedLimit }

// Code returns 14.
func (*SetSpeedLimitReply) Code() Code { return CodeSetSpeedLimitReply }

// Code returns 15.
func (*QueryParams) Code() Code { return CodeQueryParams }

// Code returns 16.
func (*VehicleParams) Code() Code { return CodeVehicleParams }

// Code returns 18.
func (*QueryGPS) Code() Code { return CodeQueryGPS }

// Code returns 19.
func (*GPSReport) Code() Code { return CodeGPSReport }

// Code returns 20.
func (*Reboot) Code() Code { return CodeReboot }

// Code returns 21.
func (*QueryVersion) Code() Code { return CodeQueryVersion }

// Code returns 22.
func (*VersionReply) Code() Code { return CodeVersionReply }

// Code returns 23.
func (*StartUpgrade) Code() Code { return CodeStartUpgrade }

// Code returns 24.
func (*QueryIMEI) Code() Code { return CodeQueryIMEI }

// Code returns 25.
func (*IMEIReply) Code() Code { return CodeIMEIReply }

// Code returns 27.
func (*Heartbeat) Code() Code { return CodeHeartbeat }

// Code returns 28.
func (*Buzzer) Code() Code { return CodeBuzzer }

// Code returns 33.
func (*SetServerParamsLegacy) Code() Code { return CodeSetServerParamsLegacy }

// Code returns 34.
func (*SetServerParamsLegacyReply) Code() Code { return CodeSetServerParamsLegacyReply }

// Code returns 35.
func (*QueryServerParams) Code() Code { return CodeQueryServerParams }

// Code returns 36.
func (*ServerParamsReply) Code() Code { return CodeServerParamsReply }

// Code returns 37.
func (*SetHeadlight) Code() Code { return CodeSetHeadlight }

// Code returns 38.
func (*SetHeadlightReply) Code() Code { return CodeSetHeadlightReply }

// Code returns 39.
func (*SetVibration) Code() Code { return CodeSetVibration }

// Code returns 40.
func (*SetVibrationReply) Code() Code { return CodeSetVibrationReply }

// Code returns 41.
func (*SetDistanceUnit) Code() Code { return CodeSetDistanceUnit }

// Code returns 42.
func (*SetDistanceUnitReply) Code() Code { return CodeSetDistanceUnitReply }

// Code returns 43.
func (*SetLampMode) Code() Code { return CodeSetLampMode }

// Code returns 44.
func (*SetLampModeReply) Code() Code { return CodeSetLampModeReply }

// Code returns 49.
func (*SetAssistLevel) Code() Code { return CodeSetAssistLevel }

// Code returns 50.
func (*SetAssistLevelReply) Code() Code { return CodeSetAssistLevelReply }

// Code returns 53.
func (*SetAPN) Code() Code { return CodeSetAPN }

// Code returns 54.
func (*SetAPNReply) Code() Code { return CodeSetAPNReply }

// Code returns 55.
func (*StatusParams) Code() Code { return CodeStatusParams }

// Code returns 57.
func (*VibrationDetected) Code() Code { return CodeVibrationDetected }

// Code returns 58.
func (*SpecialBuzzer) Code() Code { return CodeSpecialBuzzer }

// Code returns 60.
func (*BatteryUnlock) Code() Code { return CodeBatteryUnlock }

// Code returns 61.
func (*BatteryUnlockReply) Code() Code { return CodeBatteryUnlockReply }

// Code returns 62.
func (*BatteryLock) Code() Code { return CodeBatteryLock }

// Code returns 63.
func (*BatteryLockReply) Code() Code { return CodeBatteryLockReply }

// Code returns 66.
func (*StartUpgradeReply) Code() Code { return CodeStartUpgradeReply }

// Code returns 67.
func (*FirmwarePackage) Code() Code { return CodeFirmwarePackage }

// Code returns 68.
func (*FirmwarePackageReply) Code() Code { return CodeFirmwarePackageReply }

// Code returns 69.
func (*UpgradeResult) Code() Code { return CodeUpgradeResult }

// Code returns 71.
func (*ChainUnlock) Code() Code { return CodeChainUnlock }

// Code returns 72.
func (*ChainUnlockReply) Code() Code { return CodeChainUnlockReply }

// Code returns 73.
func (*Pause) Code() Code { return CodePause }

// Code returns 74.
func (*PauseReply) Code() Code { return CodePauseReply }

// Code returns 75.
func (*Resume) Code() Code { return CodeResume }

// Code returns 76.
func (*ResumeReply) Code() Code { return CodeResumeReply }

// Code returns 77.
func (*QueryLog) Code() Code { return CodeQueryLog }

// Code returns 78.
func (*LogReply) Code() Code { return CodeLogReply }

// Code returns 83.
func (*QueryChainLock) Code() Code { return CodeQueryChainLock }

// Code returns 84.
func (*ChainLockState) Code() Code { return CodeChainLockState }

// Code returns 88.
func (*VibrationCheck) Code() Code { return CodeVibrationCheck }

// Code returns 93.
func (*RebootIfUpdated) Code() Code { return CodeRebootIfUpdated }

// Code returns 97.
func (*QuerySignal) Code() Code { return CodeQuerySignal }

// Code returns 98.
func (*SignalReply) Code() Code { return CodeSignalReply }

// Code returns 101.
func (*SetServerParams) Code() Code { return CodeSetServerParams }

// Code returns 102.
func (*SetServerParamsReply) Code() Code { return CodeSetServerParamsReply }

// Code returns 103.
func (*SetSerialNumber) Code() Code { return CodeSetSerialNumber }

// Code returns 104.
func (*SetSerialNumberReply) Code() Code { return CodeSetSerialNumberReply }

// Code returns 105.
func (*MotorUnlock) Code() Code { return CodeMotorUnlock }

// Code returns 106.
func (*MotorUnlockReply) Code() Code { return CodeMotorUnlockReply }

// Code returns 107.
func (*MotorLock) Code() Code { return CodeMotorLock }

// Code returns 108.
func (*MotorLockReply) Code() Code { return CodeMotorLockReply }

func (*PowerOn) command()               {}
func (*PowerOff) command()              {}
func (*ClearRideMileage) command()      {}
func (*ClearRideTime) command()         {}
func (*ClearTotalMileage) command()     {}
func (*ClearTotalTime) command()        {}
func (*SetSpeedLimit) command()         {}
func (*QueryParams) command()           {}
func (*QueryGPS) command()              {}
func (*Reboot) command()                {}
func (*QueryVersion) command()          {}
func (*StartUpgrade) command()          {}
func (*QueryIMEI) command()             {}
func (*Buzzer) command()                {}
func (*SetServerParamsLegacy) command() {}
func (*QueryServerParams) command()     {}
func (*SetHeadlight) command()          {}
func (*SetVibration) command()          {}
func (*SetDistanceUnit) command()       {}
func (*SetLampMode) command()           {}
func (*SetAssistLevel) command()        {}
func (*SetAPN) command()                {}
func (*SpecialBuzzer) command()         {}
func (*BatteryUnlock) command()         {}
func (*BatteryLock) command()           {}
func (*FirmwarePackage) command()       {}
func (*ChainUnlock) command()           {}
func (*Pause) command()                 {}
func (*Resume) command()                {}
func (*QueryLog) command()              {}
func (*QueryChainLock) command()        {}
func (*RebootIfUpdated) command()       {}
func (*QuerySignal) command()           {}
func (*SetServerParams) command()       {}
func (*SetSerialNumber) command()       {}
func (*MotorUnlock) command()           {}
func (*MotorLock) command()             {}

// newMessage returns a zero value of the type of code c (nil if unknown).
func newMessage(c Code) Message {
	switch c {
	case CodePowerOn:
		return new(PowerOn)
	case CodePowerOnReply:
		return new(PowerOnReply)
	case CodePowerOff:
		return new(PowerOff)
	case CodePowerOffReply:
		return new(PowerOffReply)
	case CodeClearRideMileage:
		return new(ClearRideMileage)
	case CodeClearRideMileageReply:
		return new(ClearRideMileageReply)
	case CodeClearRideTime:
		return new(ClearRideTime)
	case CodeClearRideTimeReply:
		return new(ClearRideTimeReply)
	case CodeClearTotalMileage:
		return new(ClearTotalMileage)
	case CodeClearTotalMileageReply:
		return new(ClearTotalMileageReply)
	case CodeClearTotalTime:
		return new(ClearTotalTime)
	case CodeClearTotalTimeReply:
		return new(ClearTotalTimeReply)
	case CodeSetSpeedLimit:
		return new(SetSpeedLimit)
	case CodeSetSpeedLimitReply:
		return new(SetSpeedLimitReply)
	case CodeQueryParams:
		return new(QueryParams)
	case CodeVehicleParams:
		return new(VehicleParams)
	case CodeQueryGPS:
		return new(QueryGPS)
	case CodeGPSReport:
		return new(GPSReport)
	case CodeReboot:
		return new(Reboot)
	case CodeQueryVersion:
		return new(QueryVersion)
	case CodeVersionReply:
		return new(VersionReply)
	case CodeStartUpgrade:
		return new(StartUpgrade)
	case CodeQueryIMEI:
		return new(QueryIMEI)
	case CodeIMEIReply:
		return new(IMEIReply)
	case CodeHeartbeat:
		return new(Heartbeat)
	case CodeBuzzer:
		return new(Buzzer)
	case CodeSetServerParamsLegacy:
		return new(SetServerParamsLegacy)
	case CodeSetServerParamsLegacyReply:
		return new(SetServerParamsLegacyReply)
	case CodeQueryServerParams:
		return new(QueryServerParams)
	case CodeServerParamsReply:
		return new(ServerParamsReply)
	case CodeSetHeadlight:
		return new(SetHeadlight)
	case CodeSetHeadlightReply:
		return new(SetHeadlightReply)
	case CodeSetVibration:
		return new(SetVibration)
	case CodeSetVibrationReply:
		return new(SetVibrationReply)
	case CodeSetDistanceUnit:
		return new(SetDistanceUnit)
	case CodeSetDistanceUnitReply:
		return new(SetDistanceUnitReply)
	case CodeSetLampMode:
		return new(SetLampMode)
	case CodeSetLampModeReply:
		return new(SetLampModeReply)
	case CodeSetAssistLevel:
		return new(SetAssistLevel)
	case CodeSetAssistLevelReply:
		return new(SetAssistLevelReply)
	case CodeSetAPN:
		return new(SetAPN)
	case CodeSetAPNReply:
		return new(SetAPNReply)
	case CodeStatusParams:
		return new(StatusParams)
	case CodeVibrationDetected:
		return new(VibrationDetected)
	case CodeSpecialBuzzer:
		return new(SpecialBuzzer)
	case CodeBatteryUnlock:
		return new(BatteryUnlock)
	case CodeBatteryUnlockReply:
		return new(BatteryUnlockReply)
	case CodeBatteryLock:
		return new(BatteryLock)
	case CodeBatteryLockReply:
		return new(BatteryLockReply)
	case CodeStartUpgradeReply:
		return new(StartUpgradeReply)
	case CodeFirmwarePackage:
		return new(FirmwarePackage)
	case CodeFirmwarePackageReply:
		return new(FirmwarePackageReply)
	case CodeUpgradeResult:
		return new(UpgradeResult)
	case CodeChainUnlock:
		return new(ChainUnlock)
	case CodeChainUnlockReply:
		return new(ChainUnlockReply)
	case CodePause:
		return new(Pause)
	case CodePauseReply:
		return new(PauseReply)
	case CodeResume:
		return new(Resume)
	case CodeResumeReply:
		return new(ResumeReply)
	case CodeQueryLog:
		return new(QueryLog)
	case CodeLogReply:
		return new(LogReply)
	case CodeQueryChainLock:
		return new(QueryChainLock)
	case CodeChainLockState:
		return new(ChainLockState)
	case CodeVibrationCheck:
		return new(VibrationCheck)
	case CodeRebootIfUpdated:
		return new(RebootIfUpdated)
	case CodeQuerySignal:
		return new(QuerySignal)
	case CodeSignalReply:
		return new(SignalReply)
	case CodeSetServerParams:
		return new(SetServerParams)
	case CodeSetServerParamsReply:
		return new(SetServerParamsReply)
	case CodeSetSerialNumber:
		return new(SetSerialNumber)
	case CodeSetSerialNumberReply:
		return new(SetSerialNumberReply)
	case CodeMotorUnlock:
		return new(MotorUnlock)
	case CodeMotorUnlockReply:
		return new(MotorUnlockReply)
	case CodeMotorLock:
		return new(MotorLock)
	case CodeMotorLockReply:
		return new(MotorLockReply)
	}
	return nil
}

// decodeFields decodes the fields of code c. Every case calls a concrete
// visit method so that escape analysis keeps the visitor and the scanned
// object on the caller's stack (an interface call would move them to the heap).
func decodeFields(c Code, v *visitor, h Header) Message {
	switch c {
	case CodePowerOn:
		m := new(PowerOn)
		m.visit(v)
		return m
	case CodePowerOnReply:
		m := &PowerOnReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodePowerOff:
		m := new(PowerOff)
		m.visit(v)
		return m
	case CodePowerOffReply:
		m := &PowerOffReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeClearRideMileage:
		m := new(ClearRideMileage)
		m.visit(v)
		return m
	case CodeClearRideMileageReply:
		m := &ClearRideMileageReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeClearRideTime:
		m := new(ClearRideTime)
		m.visit(v)
		return m
	case CodeClearRideTimeReply:
		m := &ClearRideTimeReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeClearTotalMileage:
		m := new(ClearTotalMileage)
		m.visit(v)
		return m
	case CodeClearTotalMileageReply:
		m := &ClearTotalMileageReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeClearTotalTime:
		m := new(ClearTotalTime)
		m.visit(v)
		return m
	case CodeClearTotalTimeReply:
		m := &ClearTotalTimeReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetSpeedLimit:
		m := new(SetSpeedLimit)
		m.visit(v)
		return m
	case CodeSetSpeedLimitReply:
		m := &SetSpeedLimitReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeQueryParams:
		m := new(QueryParams)
		m.visit(v)
		return m
	case CodeVehicleParams:
		m := &VehicleParams{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeQueryGPS:
		m := new(QueryGPS)
		m.visit(v)
		return m
	case CodeGPSReport:
		m := &GPSReport{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeReboot:
		m := new(Reboot)
		m.visit(v)
		return m
	case CodeQueryVersion:
		m := new(QueryVersion)
		m.visit(v)
		return m
	case CodeVersionReply:
		m := &VersionReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeStartUpgrade:
		m := new(StartUpgrade)
		m.visit(v)
		return m
	case CodeQueryIMEI:
		m := new(QueryIMEI)
		m.visit(v)
		return m
	case CodeIMEIReply:
		m := &IMEIReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeHeartbeat:
		m := &Heartbeat{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeBuzzer:
		m := new(Buzzer)
		m.visit(v)
		return m
	case CodeSetServerParamsLegacy:
		m := new(SetServerParamsLegacy)
		m.visit(v)
		return m
	case CodeSetServerParamsLegacyReply:
		m := &SetServerParamsLegacyReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeQueryServerParams:
		m := new(QueryServerParams)
		m.visit(v)
		return m
	case CodeServerParamsReply:
		m := &ServerParamsReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetHeadlight:
		m := new(SetHeadlight)
		m.visit(v)
		return m
	case CodeSetHeadlightReply:
		m := &SetHeadlightReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetVibration:
		m := new(SetVibration)
		m.visit(v)
		return m
	case CodeSetVibrationReply:
		m := &SetVibrationReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetDistanceUnit:
		m := new(SetDistanceUnit)
		m.visit(v)
		return m
	case CodeSetDistanceUnitReply:
		m := &SetDistanceUnitReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetLampMode:
		m := new(SetLampMode)
		m.visit(v)
		return m
	case CodeSetLampModeReply:
		m := &SetLampModeReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetAssistLevel:
		m := new(SetAssistLevel)
		m.visit(v)
		return m
	case CodeSetAssistLevelReply:
		m := &SetAssistLevelReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetAPN:
		m := new(SetAPN)
		m.visit(v)
		return m
	case CodeSetAPNReply:
		m := &SetAPNReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeStatusParams:
		m := &StatusParams{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeVibrationDetected:
		m := &VibrationDetected{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSpecialBuzzer:
		m := new(SpecialBuzzer)
		m.visit(v)
		return m
	case CodeBatteryUnlock:
		m := new(BatteryUnlock)
		m.visit(v)
		return m
	case CodeBatteryUnlockReply:
		m := &BatteryUnlockReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeBatteryLock:
		m := new(BatteryLock)
		m.visit(v)
		return m
	case CodeBatteryLockReply:
		m := &BatteryLockReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeStartUpgradeReply:
		m := &StartUpgradeReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeFirmwarePackage:
		m := new(FirmwarePackage)
		m.visit(v)
		return m
	case CodeFirmwarePackageReply:
		m := &FirmwarePackageReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeUpgradeResult:
		m := &UpgradeResult{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeChainUnlock:
		m := new(ChainUnlock)
		m.visit(v)
		return m
	case CodeChainUnlockReply:
		m := &ChainUnlockReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodePause:
		m := new(Pause)
		m.visit(v)
		return m
	case CodePauseReply:
		m := &PauseReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeResume:
		m := new(Resume)
		m.visit(v)
		return m
	case CodeResumeReply:
		m := &ResumeReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeQueryLog:
		m := new(QueryLog)
		m.visit(v)
		return m
	case CodeLogReply:
		m := &LogReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeQueryChainLock:
		m := new(QueryChainLock)
		m.visit(v)
		return m
	case CodeChainLockState:
		m := &ChainLockState{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeVibrationCheck:
		m := &VibrationCheck{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeRebootIfUpdated:
		m := new(RebootIfUpdated)
		m.visit(v)
		return m
	case CodeQuerySignal:
		m := new(QuerySignal)
		m.visit(v)
		return m
	case CodeSignalReply:
		m := &SignalReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetServerParams:
		m := new(SetServerParams)
		m.visit(v)
		return m
	case CodeSetServerParamsReply:
		m := &SetServerParamsReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeSetSerialNumber:
		m := new(SetSerialNumber)
		m.visit(v)
		return m
	case CodeSetSerialNumberReply:
		m := &SetSerialNumberReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeMotorUnlock:
		m := new(MotorUnlock)
		m.visit(v)
		return m
	case CodeMotorUnlockReply:
		m := &MotorUnlockReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	case CodeMotorLock:
		m := new(MotorLock)
		m.visit(v)
		return m
	case CodeMotorLockReply:
		m := &MotorLockReply{Header: h}
		m.visit(v)
		m.Present |= v.present
		return m
	}
	return nil
}

// visitConcrete calls m's visit method through a concrete type so that the
// encoder's visitor stays on the stack (an interface call would move it to
// the heap on every encode).
func visitConcrete(m Message, v *visitor) {
	switch x := m.(type) {
	case *PowerOn:
		x.visit(v)
	case *PowerOnReply:
		x.visit(v)
	case *PowerOff:
		x.visit(v)
	case *PowerOffReply:
		x.visit(v)
	case *ClearRideMileage:
		x.visit(v)
	case *ClearRideMileageReply:
		x.visit(v)
	case *ClearRideTime:
		x.visit(v)
	case *ClearRideTimeReply:
		x.visit(v)
	case *ClearTotalMileage:
		x.visit(v)
	case *ClearTotalMileageReply:
		x.visit(v)
	case *ClearTotalTime:
		x.visit(v)
	case *ClearTotalTimeReply:
		x.visit(v)
	case *SetSpeedLimit:
		x.visit(v)
	case *SetSpeedLimitReply:
		x.visit(v)
	case *QueryParams:
		x.visit(v)
	case *VehicleParams:
		x.visit(v)
	case *QueryGPS:
		x.visit(v)
	case *GPSReport:
		x.visit(v)
	case *Reboot:
		x.visit(v)
	case *QueryVersion:
		x.visit(v)
	case *VersionReply:
		x.visit(v)
	case *StartUpgrade:
		x.visit(v)
	case *QueryIMEI:
		x.visit(v)
	case *IMEIReply:
		x.visit(v)
	case *Heartbeat:
		x.visit(v)
	case *Buzzer:
		x.visit(v)
	case *SetServerParamsLegacy:
		x.visit(v)
	case *SetServerParamsLegacyReply:
		x.visit(v)
	case *QueryServerParams:
		x.visit(v)
	case *ServerParamsReply:
		x.visit(v)
	case *SetHeadlight:
		x.visit(v)
	case *SetHeadlightReply:
		x.visit(v)
	case *SetVibration:
		x.visit(v)
	case *SetVibrationReply:
		x.visit(v)
	case *SetDistanceUnit:
		x.visit(v)
	case *SetDistanceUnitReply:
		x.visit(v)
	case *SetLampMode:
		x.visit(v)
	case *SetLampModeReply:
		x.visit(v)
	case *SetAssistLevel:
		x.visit(v)
	case *SetAssistLevelReply:
		x.visit(v)
	case *SetAPN:
		x.visit(v)
	case *SetAPNReply:
		x.visit(v)
	case *StatusParams:
		x.visit(v)
	case *VibrationDetected:
		x.visit(v)
	case *SpecialBuzzer:
		x.visit(v)
	case *BatteryUnlock:
		x.visit(v)
	case *BatteryUnlockReply:
		x.visit(v)
	case *BatteryLock:
		x.visit(v)
	case *BatteryLockReply:
		x.visit(v)
	case *StartUpgradeReply:
		x.visit(v)
	case *FirmwarePackage:
		x.visit(v)
	case *FirmwarePackageReply:
		x.visit(v)
	case *UpgradeResult:
		x.visit(v)
	case *ChainUnlock:
		x.visit(v)
	case *ChainUnlockReply:
		x.visit(v)
	case *Pause:
		x.visit(v)
	case *PauseReply:
		x.visit(v)
	case *Resume:
		x.visit(v)
	case *ResumeReply:
		x.visit(v)
	case *QueryLog:
		x.visit(v)
	case *LogReply:
		x.visit(v)
	case *QueryChainLock:
		x.visit(v)
	case *ChainLockState:
		x.visit(v)
	case *VibrationCheck:
		x.visit(v)
	case *RebootIfUpdated:
		x.visit(v)
	case *QuerySignal:
		x.visit(v)
	case *SignalReply:
		x.visit(v)
	case *SetServerParams:
		x.visit(v)
	case *SetServerParamsReply:
		x.visit(v)
	case *SetSerialNumber:
		x.visit(v)
	case *SetSerialNumberReply:
		x.visit(v)
	case *MotorUnlock:
		x.visit(v)
	case *MotorUnlockReply:
		x.visit(v)
	case *MotorLock:
		x.visit(v)
	case *MotorLockReply:
		x.visit(v)
	default: // unreachable: the set of messages is closed
		v.encFail(ErrUnknownCode, 'a', "unknown message type")
	}
}
