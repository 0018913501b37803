package technicians

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// techCols are the columns of a Technician (never the hash).
const techCols = `technicians.id::text, (SELECT code FROM cities WHERE cities.id = technicians.city_id), technicians.username,
	technicians.display_name, technicians.status, technicians.created_at, technicians.updated_at, technicians.password_changed_at`

func scanTechnician(row pgx.Row) (Technician, error) {
	var t Technician
	var city string
	err := row.Scan(&t.ID, &city, &t.Username, &t.DisplayName, &t.Status, &t.CreatedAt, &t.UpdatedAt, &t.PasswordChangedAt)
	t.City = link.CityID(city)
	return t, err
}

// bump raises the city's document version in tx (locking its row until commit) and returns
// it: max(previous + 1, unix ms of the change).
func bump(ctx context.Context, tx pgx.Tx, cityID int64) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `INSERT INTO technician_docs (city_id, version, changed_at)
		VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, now())
		ON CONFLICT (city_id) DO UPDATE
		SET version = greatest(technician_docs.version + 1, EXCLUDED.version), changed_at = now()
		RETURNING version`, cityID).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("technicians: bump document version: %w", err)
	}
	return v, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func docState(ctx context.Context, q querier, cityID int64) (DocState, error) {
	var s DocState
	var at *time.Time
	err := q.QueryRow(ctx, `SELECT version, published_version, published_at, coalesce(publish_error, '')
		FROM technician_docs WHERE city_id = $1`, cityID).Scan(&s.Version, &s.PublishedVersion, &at, &s.PublishError)
	if errors.Is(err, pgx.ErrNoRows) {
		return DocState{}, nil
	}
	if err != nil {
		return DocState{}, fmt.Errorf("technicians: document state: %w", err)
	}
	if at != nil {
		s.PublishedAt = *at
	}
	return s, nil
}

// errNoDocument means the city's technicians never changed: nothing to publish.
var errNoDocument = errors.New("technicians: no document yet")

// buildDocument reads the city's document in one repeatable-read snapshot: the version and
// exactly the accounts of that version (writers bump the version in their transaction).
func buildDocument(ctx context.Context, db DB, city link.CityID, cityID int64) (*link.TechniciansDoc, error) {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("technicians: build document: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only: nothing to lose
	doc := &link.TechniciansDoc{V: link.Version, City: city, Technicians: []link.Technician{}}
	err = tx.QueryRow(ctx, `SELECT version, changed_at FROM technician_docs WHERE city_id = $1`, cityID).Scan(&doc.Version, &doc.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoDocument
	}
	if err != nil {
		return nil, fmt.Errorf("technicians: build document: %w", err)
	}
	doc.Updated = doc.Updated.UTC()
	rows, err := tx.Query(ctx, `SELECT username, display_name, password_hash FROM technicians
		WHERE city_id = $1 AND status = 'active' ORDER BY username`, cityID)
	if err != nil {
		return nil, fmt.Errorf("technicians: build document: %w", err)
	}
	doc.Technicians, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (link.Technician, error) {
		var t link.Technician
		err := r.Scan(&t.Username, &t.Name, &t.PasswordHash)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("technicians: build document: %w", err)
	}
	return doc, nil
}

func markPublished(ctx context.Context, db DB, cityID, version int64) error {
	if _, err := db.Exec(ctx, `UPDATE technician_docs SET published_version = greatest(published_version, $2),
		published_at = now(), publish_error = NULL WHERE city_id = $1`, cityID, version); err != nil {
		return fmt.Errorf("technicians: mark published: %w", err)
	}
	return nil
}

func markFailed(ctx context.Context, db DB, cityID int64, cause error) error {
	msg := cause.Error()
	if utf8.RuneCountInString(msg) > 1000 {
		msg = string([]rune(msg)[:1000])
	}
	if _, err := db.Exec(ctx, `UPDATE technician_docs SET publish_error = $2 WHERE city_id = $1`, cityID, msg); err != nil {
		return fmt.Errorf("technicians: mark failed: %w", err)
	}
	return nil
}

type cityRef struct {
	id   int64
	code link.CityID
}

// cities lists the cities whose document is pending, or all with a document when all.
func cities(ctx context.Context, db DB, all bool) ([]cityRef, error) {
	rows, err := db.Query(ctx, `SELECT d.city_id, c.code FROM technician_docs d JOIN cities c ON c.id = d.city_id
		WHERE $1 OR d.published_version < d.version ORDER BY c.code`, all)
	if err != nil {
		return nil, fmt.Errorf("technicians: pending cities: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cityRef, error) {
		var c cityRef
		var code string
		err := r.Scan(&c.id, &code)
		c.code = link.CityID(code)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("technicians: pending cities: %w", err)
	}
	return out, nil
}
