package citycfg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// TxBeginner starts transactions: a *pgxpool.Pool or a *pgx.Conn.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Document is a configuration document for a city's gateways: *link.ZonesDoc,
// *link.VehiclesDoc or *link.TariffsDoc.
type Document interface{ Validate() error }

// errNoDocument: the kind has never been changed for the city (nothing to publish).
var errNoDocument = errors.New("citycfg: no document of this kind")

// BuildDocument builds the city's current document of kind from one consistent snapshot
// and returns it with its version. The document depends only on the database state.
func BuildDocument(ctx context.Context, db TxBeginner, city City, kind string) (Document, int64, error) {
	var doc Document
	var version int64
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var changed time.Time
		err := tx.QueryRow(ctx, `SELECT version, changed_at FROM city_config_docs WHERE city_id = $1 AND kind = $2`,
			city.ID, kind).Scan(&version, &changed)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoDocument
		}
		if err != nil {
			return err
		}
		changed = changed.UTC()
		switch kind {
		case KindZones:
			doc, err = zonesDoc(ctx, tx, city, version, changed)
		case KindVehicles:
			doc, err = vehiclesDoc(ctx, tx, city, version, changed)
		case KindTariffs:
			doc, err = tariffsDoc(ctx, tx, city, version, changed)
		default:
			err = fmt.Errorf("unknown kind %q", kind)
		}
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("citycfg: build %s document of %s: %w", kind, city.Code, err)
	}
	return doc, version, nil
}

func zonesDoc(ctx context.Context, tx pgx.Tx, city City, version int64, changed time.Time) (*link.ZonesDoc, error) {
	_, geo, err := CurrentZones(ctx, tx, city.ID)
	if err != nil {
		return nil, err
	}
	return &link.ZonesDoc{V: link.Version, City: city.Code, Version: version, Updated: changed, Geofence: geo}, nil
}

func vehiclesDoc(ctx context.Context, tx pgx.Tx, city City, version int64, changed time.Time) (*link.VehiclesDoc, error) {
	rows, err := tx.Query(ctx, `SELECT number, vehicle_type, credential_hash, normal_speed_limit_kmh, status = 'retired'
		FROM vehicles WHERE city_id = $1 AND credential_hash IS NOT NULL ORDER BY number COLLATE "C"`, city.ID)
	if err != nil {
		return nil, err
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (link.VehicleConfig, error) {
		var v link.VehicleConfig
		var limit int16
		err := r.Scan(&v.ID, &v.Type, &v.CredentialHash, &limit, &v.Disabled)
		v.NormalLimitKmh = int(limit)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	if vs == nil {
		vs = []link.VehicleConfig{}
	}
	return &link.VehiclesDoc{V: link.Version, City: city.Code, Version: version, Updated: changed, Vehicles: vs}, nil
}

func tariffsDoc(ctx context.Context, tx pgx.Tx, city City, version int64, changed time.Time) (*link.TariffsDoc, error) {
	ts, err := ListTariffs(ctx, tx, city.ID)
	if err != nil {
		return nil, err
	}
	out := make([]link.Tariff, 0, len(ts))
	for _, t := range ts {
		out = append(out, LinkTariff(t))
	}
	return &link.TariffsDoc{V: link.Version, City: city.Code, Version: version, Updated: changed, Tariffs: out}, nil
}

// LinkTariff is t as the gateways get it. link.Surcharge has one amount per zone: the
// fixed part of each surcharge (per-minute zone surcharges are priced by the cloud only).
func LinkTariff(t Tariff) link.Tariff {
	lt := link.Tariff{
		ID: strconv.FormatInt(t.ID, 10), Currency: t.Currency, UnlockFee: t.UnlockFee, PerMinute: t.PerMinute,
		PerKm: t.PerKm, PausePerMinute: t.PausePerMinute, OutOfZoneFine: t.OutOfZoneFine,
		MinimumBalance: t.MinimumBalance, EffectiveFrom: t.EffectiveFrom.UTC(),
	}
	if !t.EffectiveTo.IsZero() {
		lt.EffectiveTo = t.EffectiveTo.UTC()
	}
	for _, s := range t.Surcharges {
		if s.Fixed > 0 {
			lt.ZoneSurcharges = append(lt.ZoneSurcharges, link.Surcharge{ZoneID: s.Zone, Amount: s.Fixed})
		}
	}
	return lt
}
