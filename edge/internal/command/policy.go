package command

import (
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// Policy is how one class of command is retried and how long it may wait.
// The zero values of Config.Policies entries are filled from DefaultPolicy.
type Policy struct {
	// AttemptTimeout is how long one published attempt waits for its reply.
	AttemptTimeout time.Duration
	// Retries is how many times the command is re-published after an attempt
	// timed out (0: never). A reply with a failure status is final: it is not
	// retried (the vehicle answered; repeating the command would not change it).
	Retries int
	// Backoff is the pause before the first re-publish; it doubles for every
	// further one, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// OfflineTTL is how long the command may wait unsent (vehicle offline, or
	// its reply lane busy) when the caller gives no Options.Expires.
	OfflineTTL time.Duration
	// Group names a set of commands where the newest wins (see the package doc):
	// a newer command of the same group supersedes older ones of that group that
	// have not been published yet or are waiting to be re-published. "" = none.
	Group string
}

// backoff returns the pause before re-publish number n (1-based).
func (p Policy) backoff(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if p.MaxBackoff > 0 && d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	return d
}

// Supersede groups of the default policies.
const (
	GroupSpeedLimit = "speed-limit" // 13
	GroupPower      = "power"       // 1, 3: a newer power on/off wins
	GroupPause      = "pause"       // 73, 75
	GroupMotorLock  = "motor-lock"  // 105, 107
	GroupBattery    = "battery"     // 60, 62
)

// DefaultPolicy applies to every code without its own entry in DefaultPolicies.
var defaultPolicy = Policy{
	AttemptTimeout: 10 * time.Second,
	Retries:        1,
	Backoff:        2 * time.Second,
	MaxBackoff:     10 * time.Second,
	OfflineTTL:     5 * time.Minute,
}

// DefaultPolicy returns the policy of commands without a class of their own.
func DefaultPolicy() Policy { return defaultPolicy }

// DefaultPolicies returns the built-in per-code policies (a fresh map). Reasons:
//
//   - 13 speed limit: idempotent, safety-relevant and sent often by rules, so it
//     is retried quickly (5 s × 4 attempts, 1 s backoff doubling) and the newest
//     limit supersedes older ones; it waits at most 2 minutes for an offline
//     vehicle (its next fix re-evaluates the zones anyway).
//   - 1 power on: retried once only and waits 30 s for an offline vehicle: a
//     rider is standing at the scooter; unlocking it minutes later for nobody
//     is worse than failing. Shares GroupPower with 3.
//   - 3 power off: ends a ride (billing, theft), so 3 retries and it waits 30
//     minutes for an offline vehicle. A newer 1 or 3 supersedes it, so an old
//     power off is never re-sent after a new ride's power on (and vice versa).
//   - 73/75 pause, 105/107 motor lock, 60/62 battery lock: pairs where the
//     newest wins; 2 retries; 2 minutes offline.
//   - 23 start upgrade, 67 firmware package: used by upgrade jobs; 67 retried
//     twice after 10 s (the reply carries the serial, so a late 68 cannot be
//     mistaken for the next package's).
//   - queries (15 18 21 24 35 77 83 97): one retry, 1 minute offline: stale
//     answers are of little use.
//   - 28/58 buzzers: no reply; 30 s offline (a buzzer minutes later helps
//     nobody).
func DefaultPolicies() map[protocol.Code]Policy {
	speed := Policy{AttemptTimeout: 5 * time.Second, Retries: 3, Backoff: time.Second, MaxBackoff: 8 * time.Second,
		OfflineTTL: 2 * time.Minute, Group: GroupSpeedLimit}
	powerOn := Policy{AttemptTimeout: 10 * time.Second, Retries: 1, Backoff: time.Second, MaxBackoff: 2 * time.Second,
		OfflineTTL: 30 * time.Second, Group: GroupPower}
	powerOff := Policy{AttemptTimeout: 10 * time.Second, Retries: 3, Backoff: 2 * time.Second, MaxBackoff: 10 * time.Second,
		OfflineTTL: 30 * time.Minute, Group: GroupPower}
	pair := func(g string) Policy {
		return Policy{AttemptTimeout: 10 * time.Second, Retries: 2, Backoff: 2 * time.Second, MaxBackoff: 8 * time.Second,
			OfflineTTL: 2 * time.Minute, Group: g}
	}
	query := Policy{AttemptTimeout: 10 * time.Second, Retries: 1, Backoff: time.Second, MaxBackoff: time.Second,
		OfflineTTL: time.Minute}
	buzz := Policy{AttemptTimeout: time.Second, OfflineTTL: 30 * time.Second}
	p := map[protocol.Code]Policy{
		protocol.CodeSetSpeedLimit: speed,
		protocol.CodePowerOn:       powerOn,
		protocol.CodePowerOff:      powerOff,
		protocol.CodePause:         pair(GroupPause),
		protocol.CodeResume:        pair(GroupPause),
		protocol.CodeMotorUnlock:   pair(GroupMotorLock),
		protocol.CodeMotorLock:     pair(GroupMotorLock),
		protocol.CodeBatteryUnlock: pair(GroupBattery),
		protocol.CodeBatteryLock:   pair(GroupBattery),
		protocol.CodeStartUpgrade: {AttemptTimeout: 15 * time.Second, Retries: 1, Backoff: 2 * time.Second,
			MaxBackoff: 2 * time.Second, OfflineTTL: 5 * time.Minute},
		protocol.CodeFirmwarePackage: {AttemptTimeout: 10 * time.Second, Retries: 2, Backoff: time.Second,
			MaxBackoff: 4 * time.Second, OfflineTTL: 5 * time.Minute},
		protocol.CodeBuzzer:        buzz,
		protocol.CodeSpecialBuzzer: buzz,
	}
	for _, c := range []protocol.Code{protocol.CodeQueryParams, protocol.CodeQueryGPS, protocol.CodeQueryVersion,
		protocol.CodeQueryIMEI, protocol.CodeQueryServerParams, protocol.CodeQueryLog, protocol.CodeQueryChainLock,
		protocol.CodeQuerySignal} {
		p[c] = query
	}
	return p
}

// NoRetries in Options.Retries asks for a single attempt.
const NoRetries = -1

// Options tune one Send. The zero value means "the class policy".
type Options struct {
	// Source says who asked: "rule", "admin:7", "ride", "fieldtech:x". It is
	// carried into the result and its event.
	Source string
	// ID identifies the command in results and events; empty = a random id.
	// Sending an ID that is still in progress returns the existing Pending
	// instead of sending twice (a redelivered cloud request).
	ID string
	// Timeout bounds the wait for the reply, counted from the first publish and
	// spanning all attempts (0 = only the policy's attempts bound it). An
	// attempt never waits longer than the policy's AttemptTimeout.
	Timeout time.Duration
	// Retries overrides the policy's re-publish count (0 = policy, NoRetries = none).
	Retries int
	// Expires is the latest time the command may still be published for the
	// first time (vehicle offline or its lane busy). Zero = now + the policy's
	// OfflineTTL. A time already past expires the command at once.
	Expires time.Time
	// NoEvent suppresses the command_result event (internal steps of a job that
	// reports its own events, e.g. firmware packages). The caller still gets
	// the Result and metrics still count it.
	NoEvent bool
}
