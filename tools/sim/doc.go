// Package sim owns the scooter simulator: a fleet of virtual scooters, each a
// real MQTT client of a city gateway's broker, speaking PROTOCOL.md byte for
// byte through package protocol (including the vendor's quirky formats), riding
// along a citymap street graph, and answering every command as the firmware
// does. It also injects faults on request and records what a load test needs
// to measure the latency from a GPS fix that crosses a zone border to the
// speed-limit command it triggers.
//
// Concurrency: a Fleet owns every goroutine it starts. Periodic work (movement,
// GPS every GPSInterval, heartbeats, delayed replies, reconnects) runs on a
// fixed set of worker goroutines, each owning a slice of the scooters and
// driven by one ticker — there is no timer per scooter. Commands are handled on
// the receiving MQTT client's goroutine (paho's router), so a command's arrival
// time and reply do not wait for a tick. Each scooter's state is guarded by its
// own mutex; MQTT publishes happen outside it. Close stops every goroutine and
// disconnects every client. In Manual mode no ticker runs: the caller drives
// time with Step, which makes movement and reporting deterministic for a seed.
//
// Time comes from an injected Clock; randomness from per-scooter PCG generators
// seeded from Config.Seed and the scooter's index.
//
// # Measuring fix→command latency
//
// Every published GPS fix is recorded (Fix: sequence number, clock time taken
// just before the publish, the reported position rounded to the wire's 1e-4
// arc-minute resolution, the true position). When Config.ZoneProbe is set it
// classifies each reported position (e.g. by the effective speed limit of the
// same zones file the gateway uses); a fix whose key differs from the previous
// fix's is a Crossing. When a 13 arrives, the scooter takes the arrival time
// first thing in the MQTT handler and claims the latest crossing published
// before it that no earlier 13 claimed: CommandRecord.Latency = arrival −
// crossing publish time. A ramp (several 13s for one border) counts once, from
// its first command. The latencies are available per command (State.Commands,
// Config.OnCommand) and fleet-wide (Fleet.Latencies). Fleet.SendFix publishes
// a fix at a chosen instant for tests that cross a border on purpose.
package sim
