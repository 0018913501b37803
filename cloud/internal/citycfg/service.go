package citycfg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// Config wires a Service.
type Config struct {
	DB DB
	// Downlink returns the downlink, or nil while there is none.
	Downlink func() Publisher
	Now      func() time.Time
	Log      *slog.Logger
	// Pusher tuning (zero: defaults).
	RetryInterval, FullCheck, PushTimeout time.Duration
}

// Service makes the admin changes: each in one transaction with its audit entry, then a
// push of the affected document.
type Service struct {
	db   DB
	now  func() time.Time
	log  *slog.Logger
	push *Pusher
}

// New returns a Service; run its Pusher (Service.Pusher().Run) in the background.
func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p, err := NewPusher(PusherConfig{DB: cfg.DB, Downlink: cfg.Downlink, Log: cfg.Log, RetryInterval: cfg.RetryInterval,
		FullCheck: cfg.FullCheck, PushTimeout: cfg.PushTimeout})
	if err != nil {
		return nil, err
	}
	return &Service{db: cfg.DB, now: cfg.Now, log: cfg.Log.With("component", "citycfg"), push: p}, nil
}

// Pusher is the service's pusher.
func (s *Service) Pusher() *Pusher { return s.push }

// DB is the service's database.
func (s *Service) DB() DB { return s.db }

func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{}, fn)
}

func cityAudit(c City) map[string]any {
	return map[string]any{"code": c.Code, "name": c.Name, "timezone": c.Timezone, "currency": c.Currency}
}

// CreateCity adds a city.
func (s *Service) CreateCity(ctx context.Context, actor audit.Actor, n NewCity) (City, error) {
	if err := n.validate(); err != nil {
		return City{}, err
	}
	var c City
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = insertCity(ctx, tx, n); err != nil {
			return err
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "city.create", TargetType: "city",
			TargetID: string(c.Code), After: cityAudit(c)})
		return err
	})
	return c, err
}

// CreateGateway adds a gateway to a city.
func (s *Service) CreateGateway(ctx context.Context, actor audit.Actor, cityCode string, n NewGateway) (Gateway, error) {
	if err := n.validate(); err != nil {
		return Gateway{}, err
	}
	var g Gateway
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		city, err := CityByCode(ctx, tx, cityCode)
		if err != nil {
			return err
		}
		if g, err = insertGateway(ctx, tx, city, n); err != nil {
			return err
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "gateway.create", TargetType: "gateway",
			TargetID: string(g.Code), After: map[string]any{"code": g.Code, "city": city.Code, "name": g.Name}})
		return err
	})
	return g, err
}

// CreatedVehicle is a new vehicle with its device secret, which exists only here.
type CreatedVehicle struct {
	Vehicle Vehicle
	Secret  string
}

func vehicleAudit(v Vehicle) map[string]any {
	return map[string]any{"number": v.Number, "city": v.CityCode, "gateway": v.GatewayCode, "model": v.Model,
		"type": v.Type, "status": v.Status, "normal_speed_limit_kmh": v.NormalLimitKmh}
}

func checkBatch[T any](vs []T, validate func(*T, string) error, number func(*T) string) error {
	if len(vs) == 0 || len(vs) > MaxVehiclesPerRequest {
		return fieldErr("vehicles", fmt.Sprintf("1-%d vehicles", MaxVehiclesPerRequest))
	}
	seen := make(map[string]bool, len(vs))
	for i := range vs {
		at := "vehicles[" + strconv.Itoa(i) + "]"
		if err := validate(&vs[i], at); err != nil {
			return err
		}
		if n := number(&vs[i]); seen[n] {
			return fieldErr(at+".number", "listed twice")
		} else {
			seen[n] = true
		}
	}
	return nil
}

func gatewayOf(gws map[string]int64, code, at string) (int64, error) {
	if code == "" {
		return 0, nil
	}
	id, ok := gws[code]
	if !ok {
		return 0, fieldErr(at+".gateway", "no gateway "+strconv.Quote(code)+" in this city")
	}
	return id, nil
}

// CreateVehicles registers vehicles in a city, each with a new device secret (returned
// once). All or none: an existing number fails the whole request with ErrVehicleExists.
func (s *Service) CreateVehicles(ctx context.Context, actor audit.Actor, cityCode string, vs []NewVehicle) ([]CreatedVehicle, []DocState, error) {
	if err := checkBatch(vs, func(v *NewVehicle, at string) error { return v.validate(at) },
		func(v *NewVehicle) string { return v.Number }); err != nil {
		return nil, nil, err
	}
	var city City
	out := make([]CreatedVehicle, 0, len(vs))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if city, err = CityByCode(ctx, tx, cityCode); err != nil {
			return err
		}
		if _, err := bump(ctx, tx, city.ID, KindVehicles); err != nil {
			return err
		}
		gws, err := gatewayIDs(ctx, tx, city.ID)
		if err != nil {
			return err
		}
		for i, n := range vs {
			gw, err := gatewayOf(gws, n.Gateway, "vehicles["+strconv.Itoa(i)+"]")
			if err != nil {
				return err
			}
			secret, hash, err := newSecret()
			if err != nil {
				return err
			}
			v, err := insertVehicle(ctx, tx, city, gw, n, hash)
			if err != nil {
				return err
			}
			if _, err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "vehicle.create", TargetType: "vehicle",
				TargetID: v.Number, After: vehicleAudit(v)}); err != nil {
				return err
			}
			out = append(out, CreatedVehicle{Vehicle: v, Secret: secret})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, s.push.PushCity(ctx, city, KindVehicles), nil
}

// ImportResult says what an import did, by vehicle number.
type ImportResult struct {
	Created, Updated []string
	Unchanged        int
}

// ImportVehicles registers or updates vehicles whose credential hashes were made elsewhere
// (provisioning): a new number is created, an existing one of the same city gets the given
// model, type, limit, gateway and hash, an identical one is left alone, so an import can be
// repeated. A number registered in another city fails the whole import (ErrVehicleExists).
// Statuses are never changed. One audit entry lists what changed.
func (s *Service) ImportVehicles(ctx context.Context, actor audit.Actor, cityCode string, vs []ImportVehicle) (ImportResult, []DocState, error) {
	if err := checkBatch(vs, func(v *ImportVehicle, at string) error { return v.validate(at) },
		func(v *ImportVehicle) string { return v.Number }); err != nil {
		return ImportResult{}, nil, err
	}
	var city City
	res := ImportResult{Created: []string{}, Updated: []string{}}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if city, err = CityByCode(ctx, tx, cityCode); err != nil {
			return err
		}
		gws, err := gatewayIDs(ctx, tx, city.ID)
		if err != nil {
			return err
		}
		numbers := make([]string, len(vs))
		for i, v := range vs {
			numbers[i] = v.Number
		}
		type row struct {
			city                    int64
			model, typ, hash, state string
			limit                   int16
			gw                      int64
		}
		existing := map[string]row{}
		rows, err := tx.Query(ctx, `SELECT number, city_id, model, vehicle_type, coalesce(credential_hash, ''), status,
			normal_speed_limit_kmh, coalesce(gateway_id, 0) FROM vehicles WHERE number = ANY($1) FOR UPDATE`, numbers)
		if err != nil {
			return fmt.Errorf("citycfg: import: %w", err)
		}
		for rows.Next() {
			var n string
			var r row
			if err := rows.Scan(&n, &r.city, &r.model, &r.typ, &r.hash, &r.state, &r.limit, &r.gw); err != nil {
				rows.Close()
				return fmt.Errorf("citycfg: import: %w", err)
			}
			existing[n] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("citycfg: import: %w", err)
		}
		b := &pgx.Batch{}
		for i, v := range vs {
			at := "vehicles[" + strconv.Itoa(i) + "]"
			gw, err := gatewayOf(gws, v.Gateway, at)
			if err != nil {
				return err
			}
			var gwArg any
			if gw != 0 {
				gwArg = gw
			}
			cur, ok := existing[v.Number]
			switch {
			case !ok:
				b.Queue(`INSERT INTO vehicles (number, model, city_id, gateway_id, vehicle_type, normal_speed_limit_kmh, credential_hash)
					VALUES ($1, $2, $3, $4, $5, $6, $7)`, v.Number, v.Model, city.ID, gwArg, v.Type, v.NormalLimitKmh, v.CredentialHash)
				res.Created = append(res.Created, v.Number)
			case cur.city != city.ID:
				return fmt.Errorf("%w: %s is registered in another city", ErrVehicleExists, v.Number)
			case cur.model == v.Model && cur.typ == v.Type && cur.hash == v.CredentialHash &&
				int(cur.limit) == v.NormalLimitKmh && cur.gw == gw:
				res.Unchanged++
			default:
				b.Queue(`UPDATE vehicles SET model = $2, vehicle_type = $3, normal_speed_limit_kmh = $4, credential_hash = $5,
					gateway_id = $6, updated_at = now() WHERE number = $1`, v.Number, v.Model, v.Type, v.NormalLimitKmh,
					v.CredentialHash, gwArg)
				res.Updated = append(res.Updated, v.Number)
			}
		}
		if b.Len() == 0 {
			return nil
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			if isUnique(err, "") { // created concurrently
				return fmt.Errorf("%w: registered concurrently", ErrVehicleExists)
			}
			return fmt.Errorf("citycfg: import: %w", err)
		}
		if _, err := bump(ctx, tx, city.ID, KindVehicles); err != nil {
			return err
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "vehicle.import", TargetType: "city",
			TargetID: string(city.Code), Details: map[string]any{"created": res.Created, "updated": res.Updated,
				"unchanged": res.Unchanged}})
		return err
	})
	if err != nil {
		return ImportResult{}, nil, err
	}
	return res, s.push.PushCity(ctx, city, KindVehicles), nil
}

// UpdateVehicle changes a vehicle's model, type, status or normal limit. Setting the status
// of a reserved or riding vehicle fails with ErrVehicleBusy.
func (s *Service) UpdateVehicle(ctx context.Context, actor audit.Actor, number string, c VehicleChange) (Vehicle, []DocState, error) {
	if err := c.validate(); err != nil {
		return Vehicle{}, nil, err
	}
	var after Vehicle
	var docChanged bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		before, err := vehicleBy(ctx, tx, number, " FOR UPDATE OF v")
		if err != nil {
			return err
		}
		next := before
		if c.Model != nil {
			next.Model = *c.Model
		}
		if c.Type != nil {
			next.Type = *c.Type
		}
		if c.NormalLimitKmh != nil {
			next.NormalLimitKmh = *c.NormalLimitKmh
		}
		if c.Status != nil && *c.Status != before.Status {
			if before.Status == StatusReserved || before.Status == StatusInRide {
				return fmt.Errorf("citycfg: vehicle %s is %s: %w", number, before.Status, ErrVehicleBusy)
			}
			next.Status = *c.Status
		}
		if next == before {
			after = before
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE vehicles SET model = $2, vehicle_type = $3, normal_speed_limit_kmh = $4,
			status = $5, updated_at = now() WHERE id = $1`, before.ID, next.Model, next.Type, next.NormalLimitKmh, next.Status); err != nil {
			return fmt.Errorf("citycfg: update vehicle %s: %w", number, err)
		}
		if after, err = vehicleBy(ctx, tx, number, ""); err != nil {
			return err
		}
		docChanged = before.Type != after.Type || before.NormalLimitKmh != after.NormalLimitKmh ||
			(before.Status == StatusRetired) != (after.Status == StatusRetired)
		if docChanged {
			if _, err := bump(ctx, tx, after.CityID, KindVehicles); err != nil {
				return err
			}
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "vehicle.update", TargetType: "vehicle",
			TargetID: number, Before: vehicleAudit(before), After: vehicleAudit(after)})
		return err
	})
	if err != nil || !docChanged {
		return after, nil, err
	}
	return after, s.push.PushCity(ctx, City{ID: after.CityID, Code: after.CityCode}, KindVehicles), nil
}

// RotateSecret gives a vehicle a new device secret (returned once); the old one stops
// working once the gateway has the new vehicles document.
func (s *Service) RotateSecret(ctx context.Context, actor audit.Actor, number string) (Vehicle, string, []DocState, error) {
	var v Vehicle
	var secret string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if v, err = vehicleBy(ctx, tx, number, " FOR UPDATE OF v"); err != nil {
			return err
		}
		had := v.HasCredential
		var hash string
		if secret, hash, err = newSecret(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE vehicles SET credential_hash = $2, updated_at = now() WHERE id = $1`, v.ID, hash); err != nil {
			return fmt.Errorf("citycfg: rotate secret of %s: %w", number, err)
		}
		if _, err := bump(ctx, tx, v.CityID, KindVehicles); err != nil {
			return err
		}
		v.HasCredential = true
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "vehicle.rotate_secret", TargetType: "vehicle",
			TargetID: number, Details: map[string]any{"had_credential": had}})
		return err
	})
	if err != nil {
		return Vehicle{}, "", nil, err
	}
	return v, secret, s.push.PushCity(ctx, City{ID: v.CityID, Code: v.CityCode}, KindVehicles), nil
}

// ValidateZones checks a geofencing document as the gateways will load it (shared/zone,
// in the city's time zone) and that every speed limit is within 0-MaxZoneSpeedKmh. It
// returns a *ZonesError naming every problem found.
func ValidateZones(doc []byte, loc *time.Location) (*zone.Set, error) {
	bare := false
	var head struct {
		Data json.RawMessage `json:"data"`
		Type string          `json:"type"`
	}
	if json.Unmarshal(doc, &head) == nil && head.Data == nil && head.Type != "" {
		bare = true
	}
	set, err := zone.Load(doc, zone.Options{Location: loc})
	if err != nil {
		return nil, zonesError(err, bare)
	}
	ze := &ZonesError{}
	check := func(rules []zone.Rule, path string) {
		for j, r := range rules {
			if r.HasMaxSpeed && r.MaxSpeedKPH > MaxZoneSpeedKmh {
				ze.Problems = append(ze.Problems, ZoneProblem{
					Field:   path + "[" + strconv.Itoa(j) + "].maximum_speed_kph",
					Message: fmt.Sprintf("must be 0-%d km/h for scooters, got %d", MaxZoneSpeedKmh, r.MaxSpeedKPH)})
			}
		}
	}
	check(set.GlobalRules(), "data.global_rules")
	for i := range set.Len() {
		z, err := set.Zone(i)
		if err != nil {
			return nil, fmt.Errorf("citycfg: zone %d: %w", i, err)
		}
		path := "data.geofencing_zones.features[" + strconv.Itoa(z.Index) + "].properties.rules"
		if bare {
			path = "features[" + strconv.Itoa(z.Index) + "].properties.rules"
		}
		check(z.Rules, path)
	}
	if len(ze.Problems) > 0 {
		return nil, ze
	}
	return set, nil
}

// PutZones stores doc as the city's next geofencing version and puts it in force (see
// doc.go). A document equal (as JSON) to the one in force creates nothing: created is
// false and the current version is returned, so the PUT can be repeated.
func (s *Service) PutZones(ctx context.Context, actor audit.Actor, cityCode string, doc []byte) (zv ZoneVersion, created bool, states []DocState, err error) {
	var city City
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if city, err = CityByCode(ctx, tx, cityCode); err != nil {
			return err
		}
		loc, err := time.LoadLocation(city.Timezone)
		if err != nil {
			loc = time.UTC
		}
		set, err := ValidateZones(doc, loc)
		if err != nil {
			return err
		}
		if _, err := bump(ctx, tx, city.ID, KindZones); err != nil { // also serialises PUTs of the city
			return err
		}
		var cur int
		var same bool
		err = tx.QueryRow(ctx, `SELECT version, document = $2::jsonb FROM zones WHERE city_id = $1 AND published_at IS NOT NULL
			ORDER BY version DESC LIMIT 1`, city.ID, doc).Scan(&cur, &same)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("citycfg: current zones: %w", err)
		}
		if same {
			zv, _, err = ZonesAt(ctx, tx, city.ID, cur)
			if err == nil {
				err = errUnchanged
			}
			return err
		}
		var createdBy any
		if actor.AdminID != "" {
			createdBy = actor.AdminID
		}
		zv, err = scanZoneVersion(tx.QueryRow(ctx, `INSERT INTO zones (city_id, version, document, created_by, published_at)
			VALUES ($1, $2, $3::jsonb, $4, now()) RETURNING `+zoneCols, city.ID, cur+1, doc, createdBy))
		if err != nil {
			return fmt.Errorf("citycfg: store zones: %w", err)
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "zones.publish", TargetType: "city",
			TargetID: string(city.Code), Before: map[string]any{"version": cur},
			After: map[string]any{"version": zv.Version, "zones": set.Len(), "bytes": zv.Bytes}})
		return err
	})
	if errors.Is(err, errUnchanged) {
		return zv, false, s.push.PushCity(ctx, city, KindZones), nil
	}
	if err != nil {
		return ZoneVersion{}, false, nil, err
	}
	return zv, true, s.push.PushCity(ctx, city, KindZones), nil
}

// errUnchanged rolls back a transaction that found nothing to change.
var errUnchanged = errors.New("citycfg: unchanged")

func tariffAudit(t Tariff) map[string]any {
	m := map[string]any{"id": t.ID, "version": t.Version, "currency": t.Currency, "effective_from": t.EffectiveFrom,
		"unlock_fee_minor": t.UnlockFee, "per_minute_minor": t.PerMinute, "per_km_minor": t.PerKm,
		"pause_per_minute_minor": t.PausePerMinute, "parking_outside_zone_fine_minor": t.OutOfZoneFine,
		"minimum_balance_minor": t.MinimumBalance, "zone_surcharges": t.Surcharges}
	if !t.EffectiveTo.IsZero() {
		m["effective_to"] = t.EffectiveTo
	}
	return m
}

// CreateTariff adds a tariff version to a city, in the city's currency. With Supersede the
// tariff in force at n.EffectiveFrom is closed at that instant in the same transaction
// ("raise prices from next Monday"). A validity overlapping another tariff fails with
// ErrTariffOverlap. closed is the superseded tariff after the change (ID 0: none).
func (s *Service) CreateTariff(ctx context.Context, actor audit.Actor, cityCode string, n NewTariff) (t, closed Tariff, states []DocState, err error) {
	if err := n.validate(s.now()); err != nil {
		return Tariff{}, Tariff{}, nil, err
	}
	var city City
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if city, err = CityByCode(ctx, tx, cityCode); err != nil {
			return err
		}
		if _, err := bump(ctx, tx, city.ID, KindTariffs); err != nil { // serialises tariff writes of the city
			return err
		}
		if n.Supersede {
			before, err := scanTariff(tx.QueryRow(ctx, `SELECT `+tariffCols+` FROM tariffs WHERE city_id = $1
				AND effective_from < $2 AND (effective_to IS NULL OR effective_to > $2) FOR UPDATE`, city.ID, n.EffectiveFrom))
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return fmt.Errorf("citycfg: tariff in force: %w", err)
			default:
				if _, err := tx.Exec(ctx, `UPDATE tariffs SET effective_to = $2 WHERE id = $1`, before.ID, n.EffectiveFrom); err != nil {
					return fmt.Errorf("citycfg: close tariff %d: %w", before.ID, err)
				}
				closed = before
				closed.EffectiveTo = n.EffectiveFrom
				if _, err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "tariff.close", TargetType: "tariff",
					TargetID: strconv.FormatInt(before.ID, 10), Before: tariffAudit(before), After: tariffAudit(closed)}); err != nil {
					return err
				}
			}
		}
		sur, err := json.Marshal(orEmpty(n.Surcharges))
		if err != nil {
			return fmt.Errorf("citycfg: surcharges: %w", err)
		}
		var to, perKm, createdBy any
		if !n.EffectiveTo.IsZero() {
			to = n.EffectiveTo
		}
		if n.PerKm > 0 {
			perKm = n.PerKm
		}
		if actor.AdminID != "" {
			createdBy = actor.AdminID
		}
		t, err = scanTariff(tx.QueryRow(ctx, `INSERT INTO tariffs (city_id, version, effective_from, effective_to, currency,
			unlock_fee_minor, per_minute_minor, per_km_minor, pause_per_minute_minor, zone_surcharges,
			parking_outside_zone_fine_minor, minimum_balance_minor, created_by)
			VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM tariffs WHERE city_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			RETURNING `+tariffCols, city.ID, n.EffectiveFrom, to, city.Currency, n.UnlockFee, n.PerMinute, perKm,
			n.PausePerMinute, sur, n.OutOfZoneFine, n.MinimumBalance, createdBy))
		if pe, ok := pgError(err); ok && pe.Code == "23P01" {
			return fmt.Errorf("citycfg: %w (constraint %s)", ErrTariffOverlap, pe.ConstraintName)
		}
		if err != nil {
			return fmt.Errorf("citycfg: create tariff: %w", err)
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "tariff.create", TargetType: "tariff",
			TargetID: strconv.FormatInt(t.ID, 10), After: tariffAudit(t), Details: map[string]any{"city": city.Code}})
		return err
	})
	if err != nil {
		return Tariff{}, Tariff{}, nil, err
	}
	return t, closed, s.push.PushCity(ctx, city, KindTariffs), nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clip(s)
}

// MarkChanged records, in tx, that what a city's document of kind is built from changed
// outside this package (e.g. another area updating vehicles columns the vehicles document
// carries), so the next push publishes it. Kick the service's Pusher after the commit.
func MarkChanged(ctx context.Context, tx pgx.Tx, cityID int64, kind string) error {
	_, err := bump(ctx, tx, cityID, kind)
	return err
}
