package fleetops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// FirmwareJobInput creates a firmware upgrade job.
type FirmwareJobInput struct {
	Version     string   `json:"version" minLength:"1" maxLength:"64" doc:"Firmware version label of the image (recorded in the vehicles registry on success)"`
	Image       []byte   `json:"image" contentEncoding:"base64" doc:"The firmware image, base64 (at most 512 KiB; sent in 1024-byte packages)"`
	Vehicles    []string `json:"vehicles" minItems:"1" maxItems:"20000" nullable:"false" doc:"Vehicle numbers of the city to upgrade"`
	Concurrency int      `json:"concurrency,omitempty" minimum:"0" maximum:"1000" doc:"Vehicles upgrading at once (default 10)"`
	MaxRestarts int      `json:"max_restarts,omitempty" minimum:"0" maximum:"10" doc:"How often one vehicle's upgrade may start over (0: the gateway's default, 3)"`
}

// FirmwareJobVehicle is one vehicle's progress in a firmware job.
type FirmwareJobVehicle struct {
	Vehicle   string    `json:"vehicle" doc:"Vehicle number"`
	State     string    `json:"state" enum:"pending,dispatched,running,succeeded,failed" doc:"pending: not sent to the gateway yet; dispatched: the gateway started it; running: progress reported; succeeded/failed: final"`
	Sent      int       `json:"sent" doc:"Packages acknowledged by the scooter in the current pass"`
	Total     int       `json:"total" doc:"Packages in the image"`
	Failures  int       `json:"failures" doc:"Packages the scooter failed to take (68 s=1), over all passes"`
	Attempts  int       `json:"attempts" doc:"Dispatches to the gateway"`
	Error     string    `json:"error,omitempty" doc:"Why it failed"`
	UpdatedAt time.Time `json:"updated_at" doc:"Last change"`
}

// FirmwareJob is a firmware job and its progress.
type FirmwareJob struct {
	ID          string               `json:"id" doc:"Job id (UUID); the gateways' firmware events carry it"`
	City        string               `json:"city" doc:"City code"`
	Version     string               `json:"version" doc:"Firmware version label"`
	ImageSHA256 string               `json:"image_sha256" doc:"SHA-256 of the image, hex"`
	ImageBytes  int                  `json:"image_bytes" doc:"Image size in bytes"`
	Packages    int                  `json:"packages" doc:"Packages per vehicle"`
	Concurrency int                  `json:"concurrency" doc:"Vehicles upgrading at once"`
	State       string               `json:"state" enum:"running,done" doc:"running until every vehicle succeeded or failed"`
	CreatedBy   string               `json:"created_by" doc:"Admin id"`
	CreatedAt   time.Time            `json:"created_at" doc:"Creation time"`
	FinishedAt  time.Time            `json:"finished_at,omitzero" doc:"When the last vehicle ended"`
	Total       int                  `json:"total" doc:"Vehicles in the job"`
	Done        int                  `json:"done" doc:"Vehicles that succeeded or failed"`
	Counts      map[string]int       `json:"counts" doc:"Vehicles per state"`
	Vehicles    []FirmwareJobVehicle `json:"vehicles" nullable:"false" doc:"Per-vehicle progress ordered by vehicle"`
}

type createFirmwareInput struct {
	City string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Body FirmwareJobInput
}

type firmwareOutput struct{ Body FirmwareJob }

type getFirmwareInput struct {
	ID string `path:"id" format:"uuid" doc:"Job id"`
}

func (s *Service) registerFirmware(api *adminapi.API) {
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-firmware-job-create", Method: http.MethodPost, Path: adminapi.Prefix + "/fleet/cities/{city}/firmware-jobs",
		Summary: "Upgrade the firmware of vehicles", Tags: []string{"Fleet"}, DefaultStatus: http.StatusAccepted,
		MaxBodyBytes: 1 << 20,
		Description: "Creates a firmware upgrade job: the city's gateway runs the 23/66/67/68/69 exchange with each vehicle, " +
			"at most `concurrency` at a time; progress comes from the gateway's firmware events. Audited as firmware_job.create.",
	}, adminapi.Requires(admin.PermFirmwareManage), nil,
		func(ctx context.Context, in *createFirmwareInput) (*firmwareOutput, error) {
			p, _ := adminapi.Actor(ctx)
			id, err := s.CreateFirmwareJob(ctx, p, link.CityID(in.City), in.Body)
			if err != nil {
				return nil, s.problem("create firmware job", err)
			}
			job, err := s.FirmwareJob(ctx, id)
			if err != nil {
				return nil, s.problem("create firmware job", err)
			}
			return &firmwareOutput{Body: job}, nil
		})
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-firmware-job-get", Method: http.MethodGet, Path: adminapi.Prefix + "/fleet/firmware-jobs/{id}",
		Summary: "Progress of a firmware job", Tags: []string{"Fleet"},
	}, adminapi.Requires(admin.PermFirmwareManage), []int{http.StatusNotFound},
		func(ctx context.Context, in *getFirmwareInput) (*firmwareOutput, error) {
			job, err := s.FirmwareJob(ctx, in.ID)
			if err != nil {
				return nil, s.problem("get firmware job", err)
			}
			return &firmwareOutput{Body: job}, nil
		})
}

// CreateFirmwareJob validates and stores (audited) a firmware job; the dispatcher sends it.
func (s *Service) CreateFirmwareJob(ctx context.Context, p audit.Actor, city link.CityID, in FirmwareJobInput) (string, error) {
	if len(in.Image) == 0 || len(in.Image) > link.MaxFirmwareImage {
		return "", invalidAt("body.image", "image of %d bytes; 1 to %d", len(in.Image), link.MaxFirmwareImage)
	}
	if in.Concurrency == 0 {
		in.Concurrency = DefaultFirmwareParallel
	}
	vehicles, err := s.selectVehicles(ctx, city, JobSelector{Vehicles: in.Vehicles})
	var fe *fieldError
	if errors.As(err, &fe) {
		fe.Location = strings.Replace(fe.Location, "body.selector.vehicles", "body.vehicles", 1)
	}
	if err != nil {
		return "", err
	}
	digest := link.FirmwareDigest(in.Image)
	packages := link.FirmwarePackages(len(in.Image))
	var id string
	err = pgx.BeginFunc(ctx, s.cfg.PG, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO firmware_jobs (city, version, image, image_sha256, packages, concurrency, max_restarts, created_by)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text`, string(city), in.Version, in.Image, digest, packages, in.Concurrency,
			in.MaxRestarts, p.AdminID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO firmware_job_vehicles (job_id, vehicle, total) SELECT $1, unnest($2::text[]), $3`,
			id, vehicles, packages); err != nil {
			return err
		}
		_, err := audit.Record(ctx, tx, audit.Entry{Actor: p, Action: "firmware_job.create", TargetType: "firmware_job", TargetID: id,
			Details: map[string]any{"city": string(city), "version": in.Version, "image_sha256": digest, "image_bytes": len(in.Image),
				"vehicles": vehicles, "concurrency": in.Concurrency}})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("fleetops: create firmware job: %w", err)
	}
	s.log.Info("firmware job created", "job", id, "city", city, "version", in.Version, "vehicles", len(vehicles), "admin", p.AdminID)
	s.poke()
	return id, nil
}

// dispatchFirmware sends each running job's next vehicles to the gateway (up to the job's
// concurrency in flight), fails stalled upgrades and finishes jobs with nothing open.
func (s *Service) dispatchFirmware(ctx context.Context) error {
	if _, err := s.cfg.PG.Exec(ctx, `UPDATE firmware_job_vehicles SET state = 'failed', updated_at = now(), error = $1
 WHERE state IN ('dispatched', 'running') AND coalesce(event_at, dispatched_at) < $2`,
		fmt.Sprintf("no progress reported by the gateway for %s", s.cfg.FirmwareStall), s.now().Add(-s.cfg.FirmwareStall)); err != nil {
		return fmt.Errorf("fleetops: firmware stall check: %w", err)
	}
	rows, err := s.cfg.PG.Query(ctx, `SELECT j.id::text, j.city, j.concurrency, j.max_restarts, j.created_by::text,
 (SELECT count(*) FROM firmware_job_vehicles v WHERE v.job_id = j.id AND v.state IN ('dispatched', 'running'))
 FROM firmware_jobs j WHERE j.state = 'running' ORDER BY j.created_at`)
	if err != nil {
		return fmt.Errorf("fleetops: firmware jobs: %w", err)
	}
	type job struct {
		id, city, createdBy                string
		concurrency, maxRestarts, inflight int
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
		var j job
		err := r.Scan(&j.id, &j.city, &j.concurrency, &j.maxRestarts, &j.createdBy, &j.inflight)
		return j, err
	})
	if err != nil {
		return fmt.Errorf("fleetops: firmware jobs: %w", err)
	}
	for _, j := range jobs {
		if free := j.concurrency - j.inflight; free > 0 {
			if err := s.dispatchJob(ctx, j.id, link.CityID(j.city), j.createdBy, j.maxRestarts, free); err != nil {
				return err
			}
		}
		if err := s.finishFirmwareJobs(ctx, s.cfg.PG, []string{j.id}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) dispatchJob(ctx context.Context, id string, city link.CityID, createdBy string, maxRestarts, free int) error {
	sender := s.cfg.Firmware()
	if sender == nil {
		return nil // no NATS in this process (yet): another process, or a later tick, dispatches
	}
	rows, err := s.cfg.PG.Query(ctx, `UPDATE firmware_job_vehicles SET state = 'dispatched', attempts = attempts + 1,
 dispatched_at = $3, updated_at = now()
 WHERE job_id = $1 AND vehicle IN (SELECT vehicle FROM firmware_job_vehicles WHERE job_id = $1 AND state = 'pending'
   ORDER BY vehicle LIMIT $2 FOR UPDATE SKIP LOCKED) AND state = 'pending' RETURNING vehicle, attempts`, id, free, s.now())
	if err != nil {
		return fmt.Errorf("fleetops: claim firmware vehicles of %s: %w", id, err)
	}
	type claim struct {
		vehicle  string
		attempts int
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claim, error) {
		var c claim
		err := r.Scan(&c.vehicle, &c.attempts)
		return c, err
	})
	if err != nil || len(claimed) == 0 {
		return err
	}
	var image []byte
	var digest string
	if err := s.cfg.PG.QueryRow(ctx, `SELECT image, image_sha256 FROM firmware_jobs WHERE id = $1`, id).Scan(&image, &digest); err != nil {
		return fmt.Errorf("fleetops: firmware image of %s: %w", id, err)
	}
	for _, c := range claimed {
		rctx, cancel := context.WithTimeout(ctx, DefaultFirmwareAskTimeout)
		acc, err := sender.StartFirmware(rctx, city, link.FirmwareRequest{V: link.Version, JobID: link.FirmwareJobID(id, c.vehicle), Vehicle: c.vehicle,
			Image: image, SHA256: digest, Source: "admin:" + createdBy, MaxRestarts: maxRestarts})
		cancel()
		var state, errText string
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && c.attempts < s.cfg.FirmwareAttempts:
			// No gateway connected, or no answer: try again on a later tick.
			state, errText = "pending", "dispatch: "+err.Error()
		case err != nil:
			state, errText = "failed", "dispatch failed: "+err.Error()
			if errors.Is(err, nats.ErrNoResponders) {
				errText = "no gateway of the city is connected"
			}
		case acc.Accepted:
			s.log.Info("firmware upgrade dispatched", "job", id, "vehicle", c.vehicle)
			continue
		case c.attempts > 1 && strings.Contains(acc.Error, "already running"):
			// An earlier dispatch that got no answer did start it: its events will come.
			continue
		default:
			state, errText = "failed", "refused by the gateway: "+acc.Error
		}
		if _, err := s.cfg.PG.Exec(ctx, `UPDATE firmware_job_vehicles SET state = $3, error = left($4, 1000), updated_at = now()
 WHERE job_id = $1 AND vehicle = $2 AND state = 'dispatched'`, id, c.vehicle, state, errText); err != nil {
			return fmt.Errorf("fleetops: firmware dispatch outcome: %w", err)
		}
	}
	return nil
}

// finishFirmwareJobs marks the given jobs done when none of their vehicles is open, auditing
// the outcome counts on behalf of the creator.
func (s *Service) finishFirmwareJobs(ctx context.Context, db txBeginner, ids []string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE firmware_jobs j SET state = 'done', finished_at = now() FROM admins a
 WHERE j.id = ANY($1::uuid[]) AND j.state = 'running' AND a.id = j.created_by
   AND NOT EXISTS (SELECT 1 FROM firmware_job_vehicles v WHERE v.job_id = j.id AND v.state IN ('pending', 'dispatched', 'running'))
 RETURNING j.id::text, a.id::text, a.email`, ids)
		if err != nil {
			return err
		}
		type done struct{ id, adminID, email string }
		finished, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (done, error) {
			var d done
			err := r.Scan(&d.id, &d.adminID, &d.email)
			return d, err
		})
		if err != nil {
			return err
		}
		for _, d := range finished {
			counts, err := stateCounts(ctx, tx, `SELECT state, count(*) FROM firmware_job_vehicles WHERE job_id = $1 GROUP BY state`, d.id)
			if err != nil {
				return err
			}
			if _, err := audit.Record(ctx, tx, audit.Entry{Actor: audit.Actor{AdminID: d.adminID, Email: d.email},
				Action: "firmware_job.finish", TargetType: "firmware_job", TargetID: d.id, Details: map[string]any{"counts": counts}}); err != nil {
				return err
			}
			s.log.Info("firmware job finished", "job", d.id, "counts", counts)
		}
		return nil
	})
}

type txBeginner interface {
	Begin(context.Context) (pgx.Tx, error)
}

// HandleEvents applies the gateways' firmware events to the jobs' rows (an ar.OnEvents
// hook). Idempotent: an event older than the newest applied to a row, or for a row that has
// ended, changes nothing, so a redelivered batch is a no-op. Events of jobs the cloud did not
// start (a field technician's: not "<job uuid>:<vehicle>" of the event's vehicle) are ignored.
func (s *Service) HandleEvents(ctx context.Context, city link.CityID, _ link.GatewayID, events []link.Event) error {
	type fwEvent struct {
		*link.Event
		job string
	}
	var fw []fwEvent
	for i := range events {
		e := &events[i]
		if e.Kind != link.EventFirmware || e.Firmware == nil {
			continue
		}
		if job, vehicle, ok := link.ParseFirmwareJobID(e.Firmware.JobID); ok && vehicle == e.Vehicle && isUUID(job) {
			fw = append(fw, fwEvent{e, job})
		}
	}
	if len(fw) == 0 {
		return nil
	}
	touched := map[string]bool{}
	err := pgx.BeginFunc(ctx, s.cfg.PG, func(tx pgx.Tx) error {
		for _, e := range fw {
			f := e.Firmware
			state := "running"
			switch f.State {
			case "succeeded", "failed":
				state = f.State
			}
			errText := ""
			if state == "failed" {
				errText = fmt.Sprintf("the gateway reported the upgrade failed (%d/%d packages, %d package failures)", f.Sent, f.Total, f.Failures)
			}
			var version string
			err := tx.QueryRow(ctx, `UPDATE firmware_job_vehicles v SET state = $3, sent = $4, total = $5, failures = $6,
 error = CASE WHEN $7 = '' THEN v.error ELSE $7 END, event_at = $8, updated_at = now()
 FROM firmware_jobs j
 WHERE v.job_id = $1::uuid AND v.vehicle = $2 AND j.id = v.job_id AND j.city = $9
   AND v.state IN ('pending', 'dispatched', 'running') AND (v.event_at IS NULL OR v.event_at <= $8)
 RETURNING j.version`, e.job, e.Vehicle, state, max(f.Sent, 0), max(f.Total, 0), max(f.Failures, 0), errText, e.Time, string(city)).Scan(&version)
			if isNoRows(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("fleetops: firmware event of %s: %w", e.Vehicle, err)
			}
			touched[e.job] = true
			if state == "succeeded" {
				if _, err := tx.Exec(ctx, `UPDATE vehicles SET firmware_version = $2, updated_at = now() WHERE number = $1`, e.Vehicle, version); err != nil {
					return fmt.Errorf("fleetops: firmware version of %s: %w", e.Vehicle, err)
				}
			}
		}
		return nil
	})
	if err != nil || len(touched) == 0 {
		return err
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	s.poke() // a slot may have freed up
	return s.finishFirmwareJobs(ctx, s.cfg.PG, ids)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// FirmwareJob returns a firmware job with its progress.
func (s *Service) FirmwareJob(ctx context.Context, id string) (FirmwareJob, error) {
	var j FirmwareJob
	var finished *time.Time
	err := s.cfg.PG.QueryRow(ctx, `SELECT id::text, city, version, image_sha256, octet_length(image), packages, concurrency, state,
 created_by::text, created_at, finished_at FROM firmware_jobs WHERE id = $1`, id).Scan(&j.ID, &j.City, &j.Version, &j.ImageSHA256,
		&j.ImageBytes, &j.Packages, &j.Concurrency, &j.State, &j.CreatedBy, &j.CreatedAt, &finished)
	if isNoRows(err) {
		return FirmwareJob{}, fmt.Errorf("%w: firmware job %s", ErrNotFound, id)
	}
	if err != nil {
		return FirmwareJob{}, fmt.Errorf("fleetops: firmware job %s: %w", id, err)
	}
	j.CreatedAt = j.CreatedAt.UTC()
	if finished != nil {
		j.FinishedAt = finished.UTC()
	}
	rows, err := s.cfg.PG.Query(ctx, `SELECT vehicle, state, sent, total, failures, attempts, error, updated_at
 FROM firmware_job_vehicles WHERE job_id = $1 ORDER BY vehicle`, id)
	if err != nil {
		return FirmwareJob{}, fmt.Errorf("fleetops: firmware job %s: %w", id, err)
	}
	j.Vehicles, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (FirmwareJobVehicle, error) {
		var v FirmwareJobVehicle
		err := r.Scan(&v.Vehicle, &v.State, &v.Sent, &v.Total, &v.Failures, &v.Attempts, &v.Error, &v.UpdatedAt)
		v.UpdatedAt = v.UpdatedAt.UTC()
		return v, err
	})
	if err != nil {
		return FirmwareJob{}, fmt.Errorf("fleetops: firmware job %s: %w", id, err)
	}
	if j.Vehicles == nil {
		j.Vehicles = []FirmwareJobVehicle{}
	}
	j.Counts = map[string]int{}
	for _, v := range j.Vehicles {
		j.Total++
		j.Counts[v.State]++
		if v.State == "succeeded" || v.State == "failed" {
			j.Done++
		}
	}
	return j, nil
}
