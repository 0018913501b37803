package rides

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the rides service (registered when Config.Registerer is set).
type metrics struct {
	starts   *prometheus.CounterVec // by outcome: ok or the problem's sentinel
	ends     *prometheus.CounterVec // by reason
	unlock   prometheus.Histogram
	nearbyN  prometheus.Gauge
	nearbyQs prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetedge_ride_starts_total",
			Help: "Ride start requests by outcome (ok, or why no ride started)."}, []string{"outcome"}),
		ends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetedge_rides_ended_total",
			Help: "Rides ended and billed, by who ended them (rider, suspension, vehicle, gateway, …)."}, []string{"reason"}),
		unlock: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fleetedge_ride_unlock_seconds",
			Help:    "Time from a ride start request to the scooter's answer (reservation, power-on round trip, activation).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		nearbyN: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fleetedge_nearby_index_vehicles",
			Help: "Rentable vehicles in the nearby index."}),
		nearbyQs: prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetedge_nearby_queries_total",
			Help: "Nearby-vehicle queries answered."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.starts, m.ends, m.unlock, m.nearbyN, m.nearbyQs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("rides: register metrics: %w", err)
		}
	}
	return m, nil
}

// startOutcome names a start's outcome for the counter.
func startOutcome(err error) string {
	for _, o := range []struct {
		err  error
		name string
	}{
		{ErrInvalidInput, "invalid"}, {ErrRiderNotFound, "rider_not_found"}, {ErrRiderSuspended, "rider_suspended"},
		{ErrRideInProgress, "ride_in_progress"}, {ErrInsufficientBalance, "insufficient_balance"},
		{ErrVehicleNotFound, "vehicle_not_found"}, {ErrVehicleUnavailable, "vehicle_unavailable"},
		{ErrVehicleOffline, "vehicle_offline"}, {ErrBatteryLow, "battery_low"}, {ErrOutsideArea, "outside_area"},
		{ErrStartNotAllowed, "start_not_allowed"}, {ErrNoTariff, "no_tariff"},
		{ErrVehicleRefused, "vehicle_refused"}, {ErrVehicleNotResponding, "vehicle_not_responding"},
		{ErrGatewayUnreachable, "gateway_unreachable"}, {ErrUnavailable, "unavailable"},
	} {
		if errors.Is(err, o.err) {
			return o.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "error"
}
