// Package loadgen owns the gateway load benchmark (`make bench-edge`, issue 3
// item 12): the 500-zone benchmark city (CityZones), the simulator's
// hysteresis-aware zone probe (HysteresisProbe), a raw MQTT QoS 1 flood
// client that finds the gateway's durable ingest ceiling (Flood), small
// readers for what a run measures (Prometheus text metrics, the simulator's
// latency logs, /proc CPU and RSS), and the orchestration of a whole run
// (Run): build nothing, start the gateway and several scooter-sim processes,
// wait for every connection, measure a fixed window, restart the gateway and
// time the reconnect storm, flood it, and write a results file.
//
// Run owns every child process it starts and stops them (SIGTERM, then
// SIGKILL) before it returns. Nothing here holds global state; time comes
// from the wall clock because every figure is a wall-clock measurement.
package loadgen
