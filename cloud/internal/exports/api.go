package exports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminlists"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// MaxRows bounds every export (an .xlsx sheet holds at most 1,048,576 rows).
const MaxRows = 1_000_000

// DB is what the exports read and where they record their audit entry: a *pgxpool.Pool as
// fleetedge_app.
type DB interface {
	adminlists.Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Deps is what the export routes need.
type Deps struct {
	PG DB
	// MaxRows overrides MaxRows (tests); 0 means MaxRows.
	MaxRows int
	// TmpDir is where excelize spills sheets beyond 16 MiB ("" = the system's).
	TmpDir string
	// MaxConcurrent bounds the exports built at once by this process (default 2; each holds
	// up to ~64 MiB of heap and one PostgreSQL connection); more answer 503 with Retry-After.
	MaxConcurrent int
	Now           func() time.Time
	Log           *slog.Logger
}

type handlers struct {
	d    Deps
	log  *slog.Logger
	busy chan struct{} // one token per export being built or sent
}

// Register adds GET /admin/v1/exports/{rides,payments,riders,vehicles,audit} (permission
// exports.create), each taking the filters of the matching list.
func Register(api *adminapi.API, d Deps) error {
	if d.PG == nil {
		return errors.New("exports: PostgreSQL is required")
	}
	if d.MaxRows <= 0 || d.MaxRows > MaxRows {
		d.MaxRows = MaxRows
	}
	if d.MaxConcurrent <= 0 {
		d.MaxConcurrent = 2
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{d: d, log: d.Log.With("component", "exports"), busy: make(chan struct{}, d.MaxConcurrent)}
	for _, e := range []struct {
		kind, summary, filters string
		register               func(huma.Operation)
	}{
		{"rides", "Export rides to Excel", "GET /admin/v1/rides", func(op huma.Operation) { register(api, op, h.rides) }},
		{"payments", "Export payments to Excel", "GET /admin/v1/payments", func(op huma.Operation) { register(api, op, h.payments) }},
		{"riders", "Export riders to Excel", "GET /admin/v1/riders", func(op huma.Operation) { register(api, op, h.riders) }},
		{"vehicles", "Export the vehicle registry to Excel", "city and status", func(op huma.Operation) { register(api, op, h.vehicles) }},
		{"audit", "Export the audit log to Excel", "GET /admin/v1/audit", func(op huma.Operation) { register(api, op, h.audit) }},
	} {
		e.register(huma.Operation{
			OperationID: "export-" + e.kind, Method: http.MethodGet, Path: adminapi.Prefix + "/exports/" + e.kind,
			Tags: []string{"exports"}, Summary: e.summary,
			Description: "An .xlsx workbook with one sheet, a header row and one row per record, with the filters of " + e.filters +
				" (AND). At most " + strconv.Itoa(MaxRows) + " rows: more is 422 invalid_request (narrow the filters). Times are UTC; " +
				"amounts in minor units. A few exports run at once per server: more answer 503 unavailable with Retry-After. " +
				"Audited (export.create).",
			Responses: map[string]*huma.Response{"200": {
				Description: "The workbook (attachment)",
				Headers: map[string]*huma.Param{
					"Content-Disposition": {Description: `attachment; filename="<kind>-<UTC time>.xlsx"`, Schema: &huma.Schema{Type: "string"}},
					"X-Export-Rows":       {Description: "Data rows in the sheet (without the header)", Schema: &huma.Schema{Type: "integer"}},
				},
				Content: map[string]*huma.MediaType{ContentType: {Schema: &huma.Schema{Type: "string", Format: "binary",
					Description: "Office Open XML workbook"}}},
			}},
		})
	}
	return nil
}

func register[I any](api *adminapi.API, op huma.Operation, h func(context.Context, *I) (*huma.StreamResponse, error)) {
	adminapi.Register(api, op, adminapi.Requires(admin.PermExportsCreate), []int{http.StatusServiceUnavailable}, h)
}

type ridesInput struct{ adminlists.RideQuery }
type paymentsInput struct{ adminlists.PaymentQuery }
type ridersInput struct{ adminlists.RiderQuery }
type vehiclesInput struct{ adminlists.VehicleQuery }

// AuditQuery are the audit log filters (as GET /admin/v1/audit).
type AuditQuery struct {
	Admin      string    `query:"admin" format:"uuid" doc:"Only entries by this admin id"`
	Action     string    `query:"action" maxLength:"128" doc:"Only this action (e.g. admin.create), or a prefix ending in .* (e.g. admin.*)"`
	TargetType string    `query:"target_type" maxLength:"64" doc:"Only entries about this kind of target (e.g. admin, rider)"`
	TargetID   string    `query:"target_id" maxLength:"255" doc:"Only entries about this target id"`
	From       time.Time `query:"from" doc:"Only entries at or after this time (RFC 3339)"`
	To         time.Time `query:"to" doc:"Only entries before this time (RFC 3339)"`
}

type auditInput struct{ AuditQuery }

// Column layouts.
var (
	rideHeaders = []string{"id", "city", "vehicle", "rider_id", "rider_email", "state", "started_at (UTC)", "ended_at (UTC)",
		"distance_m", "fare_minor", "currency", "start_lat", "start_lon", "end_lat", "end_lon"}
	rideWidths     = []float64{38, 10, 10, 38, 28, 10, 20, 20, 11, 11, 9, 11, 11, 11, 11}
	paymentHeaders = []string{"id", "rider_id", "rider_email", "method", "purpose", "ride_id", "amount_minor", "currency",
		"provider", "provider_reference", "status", "failure_reason", "created_at (UTC)", "updated_at (UTC)"}
	paymentWidths  = []float64{38, 38, 28, 12, 10, 38, 13, 9, 12, 24, 11, 24, 20, 20}
	riderHeaders   = []string{"id", "first_name", "last_name", "email", "status", "created_at (UTC)", "balances"}
	riderWidths    = []float64{38, 16, 16, 30, 11, 20, 24}
	vehicleHeaders = []string{"number", "model", "city", "gateway", "status", "firmware_version", "speed_limit_kmh",
		"created_at (UTC)", "updated_at (UTC)"}
	vehicleWidths = []float64{12, 12, 10, 12, 12, 16, 15, 20, 20}
	auditHeaders  = []string{"id", "at (UTC)", "admin_id", "admin_email", "action", "target_type", "target_id", "details",
		"ip", "user_agent", "request_id"}
	auditWidths = []float64{10, 20, 38, 28, 24, 14, 38, 60, 16, 30, 24}
)

func (h *handlers) rides(ctx context.Context, in *ridesInput) (*huma.StreamResponse, error) {
	f := in.Filter()
	return h.export(ctx, "rides", rideHeaders, rideWidths, in.RideQuery, func(wb *workbook) error {
		_, err := adminlists.EachRide(ctx, h.d.PG, f, h.d.MaxRows, func(r adminlists.Ride) error {
			return wb.add(r.ID, r.City, r.Vehicle, r.RiderID, r.RiderEmail, r.State, r.StartedAt, optTime(r.EndedAt),
				r.DistanceM, optInt64(r.FareMinor), r.Currency, r.StartLat, r.StartLon, optFloat(r.EndLat), optFloat(r.EndLon))
		})
		return err
	})
}

func (h *handlers) payments(ctx context.Context, in *paymentsInput) (*huma.StreamResponse, error) {
	f := in.Filter()
	return h.export(ctx, "payments", paymentHeaders, paymentWidths, in.PaymentQuery, func(wb *workbook) error {
		_, err := adminlists.EachPayment(ctx, h.d.PG, f, h.d.MaxRows, func(p adminlists.Payment) error {
			return wb.add(p.ID, p.RiderID, p.RiderEmail, p.Method, p.Purpose, p.RideID, p.AmountMinor, p.Currency, p.Provider,
				p.ProviderReference, p.Status, p.FailureReason, p.CreatedAt, p.UpdatedAt)
		})
		return err
	})
}

func (h *handlers) riders(ctx context.Context, in *ridersInput) (*huma.StreamResponse, error) {
	f := in.Filter()
	return h.export(ctx, "riders", riderHeaders, riderWidths, in.RiderQuery, func(wb *workbook) error {
		var sb strings.Builder
		_, err := adminlists.EachRider(ctx, h.d.PG, f, h.d.MaxRows, func(r adminlists.Rider) error {
			sb.Reset()
			for i, b := range r.Balances {
				if i > 0 {
					sb.WriteString("; ")
				}
				fmt.Fprintf(&sb, "%s %d", b.Currency, b.AmountMinor)
			}
			return wb.add(r.ID, r.FirstName, r.LastName, r.Email, r.Status, r.CreatedAt, sb.String())
		})
		return err
	})
}

func (h *handlers) vehicles(ctx context.Context, in *vehiclesInput) (*huma.StreamResponse, error) {
	f := in.Filter()
	return h.export(ctx, "vehicles", vehicleHeaders, vehicleWidths, in.VehicleQuery, func(wb *workbook) error {
		_, err := adminlists.EachVehicle(ctx, h.d.PG, f, h.d.MaxRows, func(v adminlists.Vehicle) error {
			return wb.add(v.Number, v.Model, v.City, v.Gateway, v.Status, v.FirmwareVersion, v.SpeedLimitKmh, v.CreatedAt, v.UpdatedAt)
		})
		return err
	})
}

// audit pages through audit.List (its filters and validation) by id, newest first.
func (h *handlers) audit(ctx context.Context, in *auditInput) (*huma.StreamResponse, error) {
	q := in.AuditQuery
	return h.export(ctx, "audit", auditHeaders, auditWidths, q, func(wb *workbook) error {
		f := audit.Filter{AdminID: q.Admin, Action: q.Action, TargetType: q.TargetType, TargetID: q.TargetID,
			From: q.From, To: q.To, Limit: audit.MaxLimit}
		for {
			p, err := audit.List(ctx, h.d.PG, f)
			if err != nil {
				return err
			}
			for _, r := range p.Records {
				if wb.rows() == h.d.MaxRows {
					return fmt.Errorf("%w: more than %d audit entries match; narrow the filters", adminlists.ErrTooMany, h.d.MaxRows)
				}
				ip := ""
				if r.IP.IsValid() {
					ip = r.IP.String()
				}
				if err := wb.add(r.ID, r.At, r.AdminID, r.AdminEmail, r.Action, r.TargetType, r.TargetID, string(r.Details),
					ip, r.UserAgent, r.RequestID); err != nil {
					return err
				}
			}
			if p.Next == "" {
				return nil
			}
			f.Cursor = p.Next
		}
	})
}

// export builds the workbook with fill, records the audit entry, and returns the response that
// streams the file. Everything that can fail on the server side fails before the first byte,
// so errors are proper problems.
func (h *handlers) export(ctx context.Context, kind string, headers []string, widths []float64, filters any,
	fill func(*workbook) error) (*huma.StreamResponse, error) {
	op := "export " + kind
	select {
	case h.busy <- struct{}{}:
	default:
		return nil, adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable,
			"too many exports running; retry shortly").WithRetryAfter(5 * time.Second)
	}
	release := func() { <-h.busy }
	wb, err := newWorkbook(kind, headers, widths, h.d.TmpDir)
	if err != nil {
		release()
		return nil, h.problemFor(op, err)
	}
	err = fill(wb)
	if err == nil {
		err = wb.finish()
	}
	if err == nil {
		err = h.record(ctx, kind, filters, wb.rows())
	}
	if err != nil {
		if cerr := wb.close(); cerr != nil {
			h.log.Warn("export cleanup failed", "kind", kind, "err", cerr)
		}
		release()
		return nil, h.problemFor(op, err)
	}
	name := fmt.Sprintf("%s-%s.xlsx", kind, h.d.Now().UTC().Format("20060102T150405Z"))
	rows := wb.rows()
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		defer func() {
			if err := wb.close(); err != nil {
				h.log.Warn("export cleanup failed", "kind", kind, "err", err)
			}
			release()
		}()
		hc.SetHeader("Content-Type", ContentType)
		hc.SetHeader("Content-Disposition", `attachment; filename="`+name+`"`)
		hc.SetHeader("X-Export-Rows", strconv.Itoa(rows))
		hc.SetStatus(http.StatusOK)
		if err := wb.writeTo(hc.BodyWriter()); err != nil {
			// The status is sent: the client sees a truncated body. Logged once, here.
			h.log.Warn("export interrupted", "kind", kind, "rows", rows, "err", err)
		}
	}}, nil
}

// record writes the export's audit entry (who exported what, with which filters, how many rows).
func (h *handlers) record(ctx context.Context, kind string, filters any, rows int) error {
	actor, ok := adminapi.Actor(ctx)
	if !ok {
		return errors.New("exports: no principal on an authenticated route")
	}
	err := pgx.BeginFunc(ctx, h.d.PG, func(tx pgx.Tx) error {
		_, err := audit.Record(ctx, tx, audit.Entry{Actor: actor,
			Action: "export.create", TargetType: "export", TargetID: kind,
			Details: map[string]any{"filters": filterMap(filters), "rows": rows}})
		return err
	})
	if err != nil {
		return fmt.Errorf("exports: audit: %w", err)
	}
	return nil
}

// filterMap lists the non-zero query parameters of a filter struct by their query names.
func filterMap(filters any) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(filters)
	if v.Kind() != reflect.Struct {
		return out
	}
	for i := range v.NumField() {
		name, ok := v.Type().Field(i).Tag.Lookup("query")
		if !ok || v.Field(i).IsZero() {
			continue
		}
		out[name] = v.Field(i).Interface()
	}
	return out
}

func (h *handlers) problemFor(op string, err error) error {
	if errors.Is(err, audit.ErrInvalid) {
		return adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, err.Error())
	}
	return adminlists.ProblemFor(h.log, op, err)
}
