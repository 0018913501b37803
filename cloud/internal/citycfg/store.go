package citycfg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// Querier runs statements: a *pgxpool.Pool, a pgx.Tx or a *pgx.Conn.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgError returns the PostgreSQL error in err, if any.
func pgError(err error) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	ok := errors.As(err, &pe)
	return pe, ok
}

func isUnique(err error, constraint string) bool {
	pe, ok := pgError(err)
	return ok && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

// ---- cities ----

const cityCols = `id, code, name, timezone, currency, created_at`

func scanCity(row pgx.Row) (City, error) {
	var c City
	var code string
	err := row.Scan(&c.ID, &code, &c.Name, &c.Timezone, &c.Currency, &c.CreatedAt)
	c.Code = link.CityID(code)
	return c, err
}

// CityByCode returns the city with code.
func CityByCode(ctx context.Context, q Querier, code string) (City, error) {
	c, err := scanCity(q.QueryRow(ctx, `SELECT `+cityCols+` FROM cities WHERE code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return City{}, notFound("city", code)
	}
	if err != nil {
		return City{}, fmt.Errorf("citycfg: city %q: %w", code, err)
	}
	return c, nil
}

// CityByID returns the city with id.
func CityByID(ctx context.Context, q Querier, id int64) (City, error) {
	c, err := scanCity(q.QueryRow(ctx, `SELECT `+cityCols+` FROM cities WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return City{}, notFound("city", fmt.Sprint(id))
	}
	if err != nil {
		return City{}, fmt.Errorf("citycfg: city %d: %w", id, err)
	}
	return c, nil
}

// ListCities returns every city ordered by code.
func ListCities(ctx context.Context, q Querier) ([]City, error) {
	rows, err := q.Query(ctx, `SELECT `+cityCols+` FROM cities ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("citycfg: list cities: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (City, error) { return scanCity(r) })
	if err != nil {
		return nil, fmt.Errorf("citycfg: list cities: %w", err)
	}
	return out, nil
}

func insertCity(ctx context.Context, tx pgx.Tx, n NewCity) (City, error) {
	c, err := scanCity(tx.QueryRow(ctx, `INSERT INTO cities (code, name, timezone, currency) VALUES ($1, $2, $3, $4)
		RETURNING `+cityCols, n.Code, n.Name, n.Timezone, n.Currency))
	if isUnique(err, "") {
		return City{}, fmt.Errorf("citycfg: city %q: %w", n.Code, ErrCityExists)
	}
	if err != nil {
		return City{}, fmt.Errorf("citycfg: create city %q: %w", n.Code, err)
	}
	return c, nil
}

// ---- gateways ----

const gatewayCols = `g.id, g.code, g.city_id, c.code, g.name, g.status, g.last_seen_at, g.created_at`

func scanGateway(row pgx.Row) (Gateway, error) {
	var g Gateway
	var code, city string
	var seen *time.Time
	err := row.Scan(&g.ID, &code, &g.CityID, &city, &g.Name, &g.Status, &seen, &g.CreatedAt)
	g.Code, g.CityCode = link.GatewayID(code), link.CityID(city)
	if seen != nil {
		g.LastSeenAt = *seen
	}
	return g, err
}

// ListGateways returns a city's gateways ordered by code.
func ListGateways(ctx context.Context, q Querier, cityID int64) ([]Gateway, error) {
	rows, err := q.Query(ctx, `SELECT `+gatewayCols+` FROM gateways g JOIN cities c ON c.id = g.city_id
		WHERE g.city_id = $1 ORDER BY g.code`, cityID)
	if err != nil {
		return nil, fmt.Errorf("citycfg: list gateways: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Gateway, error) { return scanGateway(r) })
	if err != nil {
		return nil, fmt.Errorf("citycfg: list gateways: %w", err)
	}
	return out, nil
}

func insertGateway(ctx context.Context, tx pgx.Tx, city City, n NewGateway) (Gateway, error) {
	g, err := scanGateway(tx.QueryRow(ctx, `WITH g AS (INSERT INTO gateways (code, city_id, name) VALUES ($1, $2, $3)
		RETURNING *) SELECT `+gatewayCols+` FROM g JOIN cities c ON c.id = g.city_id`, n.Code, city.ID, n.Name))
	if isUnique(err, "") {
		return Gateway{}, fmt.Errorf("citycfg: gateway %q: %w", n.Code, ErrGatewayExists)
	}
	if err != nil {
		return Gateway{}, fmt.Errorf("citycfg: create gateway %q: %w", n.Code, err)
	}
	return g, nil
}

// gatewayIDs maps the city's gateway codes to ids.
func gatewayIDs(ctx context.Context, q Querier, cityID int64) (map[string]int64, error) {
	rows, err := q.Query(ctx, `SELECT code, id FROM gateways WHERE city_id = $1`, cityID)
	if err != nil {
		return nil, fmt.Errorf("citycfg: gateways: %w", err)
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var code string
		var id int64
		if err := rows.Scan(&code, &id); err != nil {
			return nil, fmt.Errorf("citycfg: gateways: %w", err)
		}
		m[code] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("citycfg: gateways: %w", err)
	}
	return m, nil
}

// ---- vehicles ----

const vehicleCols = `v.id, v.number, v.model, v.city_id, c.code, coalesce(v.gateway_id, 0), coalesce(g.code, ''),
	v.status, v.vehicle_type, v.normal_speed_limit_kmh, coalesce(v.firmware_version, ''),
	v.credential_hash IS NOT NULL, v.created_at, v.updated_at`

const vehicleFrom = ` FROM vehicles v JOIN cities c ON c.id = v.city_id LEFT JOIN gateways g ON g.id = v.gateway_id`

func scanVehicle(row pgx.Row) (Vehicle, error) {
	var v Vehicle
	var city, gw string
	var limit int16
	err := row.Scan(&v.ID, &v.Number, &v.Model, &v.CityID, &city, &v.GatewayID, &gw, &v.Status, &v.Type, &limit,
		&v.FirmwareVersion, &v.HasCredential, &v.CreatedAt, &v.UpdatedAt)
	v.CityCode, v.GatewayCode, v.NormalLimitKmh = link.CityID(city), link.GatewayID(gw), int(limit)
	return v, err
}

// VehicleByNumber returns the vehicle with number (the plate / QR code).
func VehicleByNumber(ctx context.Context, q Querier, number string) (Vehicle, error) {
	return vehicleBy(ctx, q, number, "")
}

func vehicleBy(ctx context.Context, q Querier, number, lock string) (Vehicle, error) {
	v, err := scanVehicle(q.QueryRow(ctx, `SELECT `+vehicleCols+vehicleFrom+` WHERE v.number = $1`+lock, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return Vehicle{}, notFound("vehicle", number)
	}
	if err != nil {
		return Vehicle{}, fmt.Errorf("citycfg: vehicle %q: %w", number, err)
	}
	return v, nil
}

// likePrefix escapes a LIKE pattern's special characters and appends %.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// ListVehicles returns one page of vehicles matching f, ordered by number.
func ListVehicles(ctx context.Context, q Querier, f VehicleFilter) (VehiclePage, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultVehiclePage
	case limit < 0 || limit > MaxVehiclePage:
		return VehiclePage{}, fieldErr("limit", fmt.Sprintf("1-%d", MaxVehiclePage))
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.City != "" {
		add("c.code = $%d", f.City)
	}
	if f.Status != "" {
		add("v.status = $%d", f.Status)
	}
	if f.Prefix != "" {
		add(`v.number LIKE $%d`, likePrefix(f.Prefix))
	}
	if f.After != "" {
		add(`v.number COLLATE "C" > $%d`, f.After)
	}
	sql := `SELECT ` + vehicleCols + vehicleFrom
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	// COLLATE "C": byte order whatever the database locale, for the order and for After.
	sql += fmt.Sprintf(` ORDER BY v.number COLLATE "C" LIMIT $%d`, len(args))
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return VehiclePage{}, fmt.Errorf("citycfg: list vehicles: %w", err)
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Vehicle, error) { return scanVehicle(r) })
	if err != nil {
		return VehiclePage{}, fmt.Errorf("citycfg: list vehicles: %w", err)
	}
	p := VehiclePage{Vehicles: vs}
	if len(vs) > limit {
		p.Vehicles = vs[:limit]
		p.Next = vs[limit-1].Number
	}
	return p, nil
}

// insertVehicle adds one vehicle with a credential hash.
func insertVehicle(ctx context.Context, tx pgx.Tx, city City, gw int64, n NewVehicle, hash string) (Vehicle, error) {
	var gwArg any
	if gw != 0 {
		gwArg = gw
	}
	v, err := scanVehicle(tx.QueryRow(ctx, `WITH v AS (
		INSERT INTO vehicles (number, model, city_id, gateway_id, vehicle_type, normal_speed_limit_kmh, credential_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *)
		SELECT `+vehicleCols+` FROM v JOIN cities c ON c.id = v.city_id LEFT JOIN gateways g ON g.id = v.gateway_id`,
		n.Number, n.Model, city.ID, gwArg, n.Type, n.NormalLimitKmh, hash))
	if isUnique(err, "") {
		return Vehicle{}, fmt.Errorf("%w: %s", ErrVehicleExists, n.Number)
	}
	if err != nil {
		return Vehicle{}, fmt.Errorf("citycfg: create vehicle %q: %w", n.Number, err)
	}
	return v, nil
}

// ---- zones ----

const zoneCols = `city_id, version, coalesce(jsonb_array_length(CASE WHEN document ? 'data'
	THEN document #> '{data,geofencing_zones,features}' ELSE document -> 'features' END), 0),
	octet_length(document::text), created_at, coalesce(created_by::text, ''), published_at`

func scanZoneVersion(row pgx.Row) (ZoneVersion, error) {
	var z ZoneVersion
	var pub *time.Time
	err := row.Scan(&z.CityID, &z.Version, &z.Zones, &z.Bytes, &z.CreatedAt, &z.CreatedBy, &pub)
	if pub != nil {
		z.PublishedAt = *pub
	}
	return z, err
}

// ZoneVersions lists a city's geofencing document versions, newest first.
func ZoneVersions(ctx context.Context, q Querier, cityID int64) ([]ZoneVersion, error) {
	rows, err := q.Query(ctx, `SELECT `+zoneCols+` FROM zones WHERE city_id = $1 ORDER BY version DESC`, cityID)
	if err != nil {
		return nil, fmt.Errorf("citycfg: zone versions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ZoneVersion, error) { return scanZoneVersion(r) })
	if err != nil {
		return nil, fmt.Errorf("citycfg: zone versions: %w", err)
	}
	return out, nil
}

// ZonesAt returns version of a city's geofencing document and the document.
func ZonesAt(ctx context.Context, q Querier, cityID int64, version int) (ZoneVersion, []byte, error) {
	var doc []byte
	row := q.QueryRow(ctx, `SELECT `+zoneCols+`, document::text FROM zones WHERE city_id = $1 AND version = $2`, cityID, version)
	var z ZoneVersion
	var pub *time.Time
	err := row.Scan(&z.CityID, &z.Version, &z.Zones, &z.Bytes, &z.CreatedAt, &z.CreatedBy, &pub, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return ZoneVersion{}, nil, notFound("zones", fmt.Sprintf("version %d", version))
	}
	if err != nil {
		return ZoneVersion{}, nil, fmt.Errorf("citycfg: zones version %d: %w", version, err)
	}
	if pub != nil {
		z.PublishedAt = *pub
	}
	return z, doc, nil
}

// CurrentZones returns the geofencing document in force for a city (the highest published
// version) and its version; ErrNotFound when the city has none.
func CurrentZones(ctx context.Context, q Querier, cityID int64) (version int, doc []byte, err error) {
	err = q.QueryRow(ctx, `SELECT version, document::text FROM zones WHERE city_id = $1 AND published_at IS NOT NULL
		ORDER BY version DESC LIMIT 1`, cityID).Scan(&version, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, notFound("zones", fmt.Sprintf("city %d", cityID))
	}
	if err != nil {
		return 0, nil, fmt.Errorf("citycfg: current zones: %w", err)
	}
	return version, doc, nil
}

// ---- tariffs ----

const tariffCols = `id, city_id, version, currency, effective_from, effective_to, unlock_fee_minor, per_minute_minor,
	coalesce(per_km_minor, 0), pause_per_minute_minor, parking_outside_zone_fine_minor, minimum_balance_minor,
	zone_surcharges, created_at, coalesce(created_by::text, '')`

func scanTariff(row pgx.Row) (Tariff, error) {
	var t Tariff
	var to *time.Time
	var sur []byte
	err := row.Scan(&t.ID, &t.CityID, &t.Version, &t.Currency, &t.EffectiveFrom, &to, &t.UnlockFee, &t.PerMinute,
		&t.PerKm, &t.PausePerMinute, &t.OutOfZoneFine, &t.MinimumBalance, &sur, &t.CreatedAt, &t.CreatedBy)
	if err != nil {
		return t, err
	}
	if to != nil {
		t.EffectiveTo = *to
	}
	t.Surcharges = []Surcharge{}
	if err := json.Unmarshal(sur, &t.Surcharges); err != nil {
		return t, fmt.Errorf("zone_surcharges of tariff %d: %w", t.ID, err)
	}
	return t, nil
}

// ListTariffs returns a city's tariffs ordered by effective_from.
func ListTariffs(ctx context.Context, q Querier, cityID int64) ([]Tariff, error) {
	rows, err := q.Query(ctx, `SELECT `+tariffCols+` FROM tariffs WHERE city_id = $1 ORDER BY effective_from, version`, cityID)
	if err != nil {
		return nil, fmt.Errorf("citycfg: list tariffs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tariff, error) { return scanTariff(r) })
	if err != nil {
		return nil, fmt.Errorf("citycfg: list tariffs: %w", err)
	}
	return out, nil
}

// TariffAt returns the city's tariff in force at t; ErrNotFound when none is.
func TariffAt(ctx context.Context, q Querier, cityID int64, t time.Time) (Tariff, error) {
	tr, err := scanTariff(q.QueryRow(ctx, `SELECT `+tariffCols+` FROM tariffs WHERE city_id = $1
		AND tstzrange(effective_from, effective_to) @> $2::timestamptz`, cityID, t))
	if errors.Is(err, pgx.ErrNoRows) {
		return Tariff{}, notFound("tariff", t.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return Tariff{}, fmt.Errorf("citycfg: tariff at %s: %w", t.Format(time.RFC3339), err)
	}
	return tr, nil
}

// ---- configuration document versions ----

// bump raises the version of a city's document kind in tx (locking its row until commit,
// which serialises writers of one city and kind) and returns the new version.
func bump(ctx context.Context, tx pgx.Tx, cityID int64, kind string) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `INSERT INTO city_config_docs (city_id, kind, version, changed_at)
		VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, now())
		ON CONFLICT (city_id, kind) DO UPDATE
		SET version = greatest(city_config_docs.version + 1, EXCLUDED.version), changed_at = now()
		RETURNING version`, cityID, kind).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("citycfg: bump %s version: %w", kind, err)
	}
	return v, nil
}

// DocStates returns where a city's documents stand (kinds never changed are absent).
func DocStates(ctx context.Context, q Querier, cityID int64) ([]DocState, error) {
	rows, err := q.Query(ctx, `SELECT kind, version, changed_at, published_version, published_at, coalesce(publish_error, '')
		FROM city_config_docs WHERE city_id = $1 ORDER BY kind`, cityID)
	if err != nil {
		return nil, fmt.Errorf("citycfg: document states: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DocState, error) {
		var s DocState
		var pub *time.Time
		err := r.Scan(&s.Kind, &s.Version, &s.ChangedAt, &s.Published, &pub, &s.PublishError)
		if pub != nil {
			s.PublishedAt = *pub
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("citycfg: document states: %w", err)
	}
	return out, nil
}

// newSecret returns a fresh device secret and its stored hash.
func newSecret() (secret, hash string, err error) {
	secret, hash, err = devicecred.Generate()
	if err != nil {
		return "", "", fmt.Errorf("citycfg: device secret: %w", err)
	}
	return secret, hash, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("citycfg: stored document: %w", err)
	}
	return nil
}
