package fleetops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// MaxJobVehicles bounds the vehicles of one job.
const MaxJobVehicles = 20_000

// JobSelector chooses the vehicles of a bulk job: an explicit list, or the city's vehicles
// matching every filter given (zone, battery, connectivity).
type JobSelector struct {
	Vehicles     []string `json:"vehicles,omitempty" maxItems:"20000" nullable:"false" doc:"Exactly these vehicle numbers (each must belong to the city); excludes the filters"`
	ZoneID       string   `json:"zone_id,omitempty" maxLength:"200" doc:"Vehicles whose last position lies in this zone of the city's current GBFS geofencing document"`
	BatteryBelow int      `json:"battery_below,omitempty" minimum:"0" maximum:"101" doc:"Vehicles whose battery is below this percent"`
	Connectivity string   `json:"connectivity,omitempty" enum:"online,offline,lost,unknown" doc:"Vehicles in this connectivity state"`
}

// CommandJobInput creates a bulk command job.
type CommandJobInput struct {
	Code        int            `json:"code" minimum:"1" maximum:"255" doc:"Protocol command code, e.g. 107 motor lock"`
	Fields      map[string]any `json:"fields,omitempty" doc:"The command's fields by wire key, validated against the protocol registry"`
	TimeoutMs   int            `json:"timeout_ms,omitempty" minimum:"0" maximum:"600000" doc:"Wait for each scooter's reply at most this long (default 15000)"`
	Concurrency int            `json:"concurrency,omitempty" minimum:"0" maximum:"256" doc:"Commands in flight at once (default 16)"`
	Selector    JobSelector    `json:"selector" doc:"Which vehicles"`
}

// CommandJobVehicle is one vehicle's outcome in a bulk command job.
type CommandJobVehicle struct {
	Vehicle   string         `json:"vehicle" doc:"Vehicle number"`
	State     string         `json:"state" enum:"pending,sending,acked,failed,timeout,rejected,expired,no_gateway,no_reply,error" doc:"pending/sending while in progress; then the command's outcome"`
	ReplyCode int            `json:"reply_code,omitempty" doc:"Code of the scooter's reply"`
	HasStatus bool           `json:"has_status" doc:"The reply carried a status"`
	Status    int            `json:"status" doc:"The reply's status s when has_status"`
	Reply     map[string]any `json:"reply,omitempty" doc:"The decoded reply as a JSON object"`
	Error     string         `json:"error,omitempty" doc:"Why it failed"`
	LatencyMs float64        `json:"latency_ms,omitempty" doc:"Publication to reply"`
	UpdatedAt time.Time      `json:"updated_at" doc:"Last change of this row"`
}

// CommandJob is a bulk command job and its progress.
type CommandJob struct {
	ID          string              `json:"id" doc:"Job id (UUID)"`
	City        string              `json:"city" doc:"City code"`
	Code        int                 `json:"code" doc:"Command code"`
	Fields      map[string]any      `json:"fields" doc:"Command fields"`
	Selector    JobSelector         `json:"selector" doc:"How the vehicles were chosen"`
	Concurrency int                 `json:"concurrency" doc:"Commands in flight at once"`
	TimeoutMs   int                 `json:"timeout_ms" doc:"Per-vehicle wait for the reply"`
	State       string              `json:"state" enum:"running,done,interrupted" doc:"running until every vehicle has an outcome"`
	CreatedBy   string              `json:"created_by" doc:"Admin id"`
	CreatedAt   time.Time           `json:"created_at" doc:"Creation time"`
	FinishedAt  time.Time           `json:"finished_at,omitzero" doc:"When the last vehicle got its outcome"`
	Total       int                 `json:"total" doc:"Vehicles in the job"`
	Done        int                 `json:"done" doc:"Vehicles with an outcome"`
	Counts      map[string]int      `json:"counts" doc:"Vehicles per state"`
	Vehicles    []CommandJobVehicle `json:"vehicles" nullable:"false" doc:"Per-vehicle outcomes ordered by vehicle (filtered by the state query parameter)"`
}

type createJobInput struct {
	City string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Body CommandJobInput
}

type jobOutput struct {
	Body CommandJob
}

type getJobInput struct {
	ID    string `path:"id" format:"uuid" doc:"Job id"`
	State string `query:"state" enum:"pending,sending,acked,failed,timeout,rejected,expired,no_gateway,no_reply,error" doc:"Only vehicles in this state"`
}

func (s *Service) registerJobs(api *adminapi.API) {
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-command-job-create", Method: http.MethodPost, Path: adminapi.Prefix + "/fleet/cities/{city}/command-jobs",
		Summary: "Send a command to many vehicles", Tags: []string{"Fleet"}, DefaultStatus: http.StatusAccepted,
		Description: "Creates a bulk command job (e.g. lock every scooter in a zone: code 107 with selector.zone_id) and starts it; " +
			"each vehicle gets the command once, at most `concurrency` at a time. Audited as command_job.create; its outcome counts as command_job.finish.",
	}, adminapi.Requires(admin.PermVehiclesCommand), nil,
		func(ctx context.Context, in *createJobInput) (*jobOutput, error) {
			p, _ := adminapi.Actor(ctx)
			id, err := s.CreateCommandJob(ctx, p, link.CityID(in.City), in.Body)
			if err != nil {
				return nil, s.problem("create command job", err)
			}
			job, err := s.CommandJob(ctx, id, "")
			if err != nil {
				return nil, s.problem("create command job", err)
			}
			return &jobOutput{Body: job}, nil
		})
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-command-job-get", Method: http.MethodGet, Path: adminapi.Prefix + "/fleet/command-jobs/{id}",
		Summary: "Progress of a bulk command job", Tags: []string{"Fleet"},
	}, adminapi.Requires(admin.PermVehiclesRead), []int{http.StatusNotFound},
		func(ctx context.Context, in *getJobInput) (*jobOutput, error) {
			job, err := s.CommandJob(ctx, in.ID, in.State)
			if err != nil {
				return nil, s.problem("get command job", err)
			}
			return &jobOutput{Body: job}, nil
		})
}

// currentZones loads the city's current GBFS geofencing document (the highest published
// version of the zones table).
func (s *Service) currentZones(ctx context.Context, city link.CityID) (*zone.Set, error) {
	var doc []byte
	err := s.cfg.PG.QueryRow(ctx, `SELECT z.document FROM zones z JOIN cities c ON c.id = z.city_id
 WHERE c.code = $1 AND z.published_at IS NOT NULL ORDER BY z.version DESC LIMIT 1`, string(city)).Scan(&doc)
	if isNoRows(err) {
		return nil, invalidAt("body.selector.zone_id", "city %s has no published zones document", city)
	}
	if err != nil {
		return nil, fmt.Errorf("fleetops: zones of %s: %w", city, err)
	}
	set, err := zone.Load(doc, zone.Options{})
	if err != nil {
		return nil, fmt.Errorf("fleetops: zones of %s do not load: %w", city, err)
	}
	return set, nil
}

// selectVehicles resolves a selector to vehicle numbers of city.
func (s *Service) selectVehicles(ctx context.Context, city link.CityID, sel JobSelector) ([]string, error) {
	m, err := s.LiveMap(ctx, city, LiveFilter{})
	if err != nil {
		return nil, err
	}
	if len(sel.Vehicles) > 0 {
		if sel.ZoneID != "" || sel.BatteryBelow > 0 || sel.Connectivity != "" {
			return nil, invalidAt("body.selector.vehicles", "a vehicle list excludes the filters")
		}
		known := make(map[string]bool, len(m.Vehicles))
		for _, v := range m.Vehicles {
			known[v.Number] = true
		}
		seen := make(map[string]bool, len(sel.Vehicles))
		out := make([]string, 0, len(sel.Vehicles))
		for i, n := range sel.Vehicles {
			if !known[n] {
				return nil, invalidAt(fmt.Sprintf("body.selector.vehicles[%d]", i), "vehicle %q is not a vehicle of %s", n, city)
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
		return out, nil
	}
	if sel.ZoneID == "" && sel.BatteryBelow == 0 && sel.Connectivity == "" {
		return nil, invalidAt("body.selector", "give vehicles, or at least one of zone_id, battery_below, connectivity")
	}
	var contains func(FleetLiveVehicle) bool
	if sel.ZoneID != "" {
		set, err := s.currentZones(ctx, city)
		if err != nil {
			return nil, err
		}
		zi, ok := set.Lookup(sel.ZoneID)
		if !ok {
			return nil, adminapi.NewProblem(http.StatusUnprocessableEntity, CodeNoZone,
				fmt.Sprintf("zone %q is not in the current zones document of %s", sel.ZoneID, city))
		}
		contains = func(v FleetLiveVehicle) bool { return v.HasPosition && set.Contains(zi, orb.Point{v.Lon, v.Lat}) }
	}
	f := LiveFilter{BatteryBelow: sel.BatteryBelow, Connectivity: sel.Connectivity}
	var out []string
	for _, v := range m.Vehicles {
		if f.keep(&v) && (contains == nil || contains(v)) {
			out = append(out, v.Number)
		}
	}
	if len(out) == 0 {
		return nil, invalidAt("body.selector", "no vehicle of %s matches", city)
	}
	return out, nil
}

// CreateCommandJob validates, stores (audited) and starts a bulk command job; it returns the
// job id.
func (s *Service) CreateCommandJob(ctx context.Context, p audit.Actor, city link.CityID, in CommandJobInput) (string, error) {
	cmd, err := parseCommand(in.Code, in.Fields)
	if err != nil {
		return "", err
	}
	vehicles, err := s.selectVehicles(ctx, city, in.Selector)
	if err != nil {
		return "", err
	}
	if len(vehicles) > MaxJobVehicles {
		return "", invalidAt("body.selector", "%d vehicles match; at most %d per job", len(vehicles), MaxJobVehicles)
	}
	if in.TimeoutMs == 0 {
		in.TimeoutMs = int(DefaultCommandTimeout / time.Millisecond)
	}
	if in.Concurrency == 0 {
		in.Concurrency = DefaultJobConcurrency
	}
	fields, err := json.Marshal(cmd.fields)
	if err != nil {
		return "", invalidAt("body.fields", "%v", err)
	}
	selector, err := json.Marshal(in.Selector)
	if err != nil {
		return "", invalidAt("body.selector", "%v", err)
	}
	var id string
	err = pgx.BeginFunc(ctx, s.cfg.PG, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO command_jobs (city, code, fields, selector, concurrency, timeout_ms, created_by)
 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text`, string(city), cmd.code, fields, selector, in.Concurrency, in.TimeoutMs, p.AdminID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO command_job_vehicles (job_id, vehicle) SELECT $1, unnest($2::text[])`, id, vehicles); err != nil {
			return err
		}
		_, err := audit.Record(ctx, tx, audit.Entry{Actor: p, Action: "command_job.create", TargetType: "command_job", TargetID: id,
			Details: map[string]any{"city": string(city), "code": cmd.code, "fields": cmd.fields, "selector": in.Selector,
				"vehicles": len(vehicles), "concurrency": in.Concurrency, "timeout_ms": in.TimeoutMs}})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("fleetops: create command job: %w", err)
	}
	s.log.Info("command job created", "job", id, "city", city, "code", cmd.code, "vehicles", len(vehicles), "admin", p.AdminID)
	s.startCommandJob(id)
	return id, nil
}

// startCommandJob runs a job in the background under Run's context, unless this process runs
// it already, Run has not started (the sweep picks it up then) or this process has no link to
// the gateways (role api: a process with one runs it from its sweep).
func (s *Service) startCommandJob(id string) {
	if s.cfg.Commands() == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.stopped || s.running[id] {
		return
	}
	s.running[id] = true
	ctx := s.runCtx
	s.wg.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.running, id)
			s.mu.Unlock()
		}()
		if err := s.runCommandJob(ctx, id); err != nil && ctx.Err() == nil {
			s.log.Warn("command job failed", "job", id, "err", err)
		}
	})
}

type jobRow struct {
	city        link.CityID
	code        int
	fields      map[string]json.RawMessage
	concurrency int
	timeoutMs   int
	createdBy   string
}

// runCommandJob sends the job's pending vehicles their command, claiming each row first.
func (s *Service) runCommandJob(ctx context.Context, id string) error {
	var j jobRow
	var city string
	if err := s.cfg.PG.QueryRow(ctx, `SELECT city, code, fields, concurrency, timeout_ms, created_by::text FROM command_jobs WHERE id = $1`, id).
		Scan(&city, &j.code, &j.fields, &j.concurrency, &j.timeoutMs, &j.createdBy); err != nil {
		return fmt.Errorf("fleetops: load job %s: %w", id, err)
	}
	j.city = link.CityID(city)
	for ctx.Err() == nil {
		rows, err := s.cfg.PG.Query(ctx, `UPDATE command_job_vehicles SET state = 'sending', updated_at = now()
 WHERE job_id = $1 AND vehicle IN (SELECT vehicle FROM command_job_vehicles WHERE job_id = $1 AND state = 'pending'
   ORDER BY vehicle LIMIT $2 FOR UPDATE SKIP LOCKED) AND state = 'pending' RETURNING vehicle`, id, 4*j.concurrency)
		if err != nil {
			return fmt.Errorf("fleetops: claim vehicles of %s: %w", id, err)
		}
		claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("fleetops: claim vehicles of %s: %w", id, err)
		}
		if len(claimed) == 0 {
			break
		}
		s.sendAll(ctx, id, &j, claimed)
	}
	return s.finishCommandJob(ctx, id)
}

// sendAll sends the command to vehicles, j.concurrency at a time, recording each outcome.
func (s *Service) sendAll(ctx context.Context, id string, j *jobRow, vehicles []string) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(j.concurrency, len(vehicles)) {
		wg.Go(func() {
			for v := range work {
				s.sendOne(ctx, id, j, v)
			}
		})
	}
	for _, v := range vehicles {
		select {
		case work <- v:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

func (s *Service) sendOne(ctx context.Context, id string, j *jobRow, vehicle string) {
	if ctx.Err() != nil {
		return // the row stays "sending"; the sweep closes it as interrupted
	}
	sender := s.cfg.Commands()
	state, errText := "", ""
	var res link.CommandResult
	if sender == nil {
		state, errText = "no_gateway", "this cloud process has no link to the gateways"
	} else {
		var err error
		res, err = sender.SendCommand(ctx, j.city, link.CommandRequest{V: link.Version, ID: "job-" + id + "-" + vehicle, Vehicle: vehicle,
			Code: j.code, Fields: j.fields, Source: "admin:" + j.createdBy, TimeoutMs: j.timeoutMs})
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, downlink.ErrNoGateway):
			state, errText = "no_gateway", err.Error()
		case errors.Is(err, downlink.ErrNoReply):
			state, errText = "no_reply", err.Error()
		case err != nil:
			state, errText = "error", err.Error()
		default:
			state, errText = string(res.Outcome), res.Error
		}
	}
	var reply []byte
	if len(res.Reply) > 0 {
		reply = res.Reply
	}
	var replyCode, latency any
	if res.ReplyCode != 0 {
		replyCode = res.ReplyCode
	}
	if res.LatencyMs > 0 {
		latency = res.LatencyMs
	}
	if _, err := s.cfg.PG.Exec(ctx, `UPDATE command_job_vehicles SET state = $3, reply_code = $4, status = $5, reply = $6,
 error = left($7, 1000), latency_ms = $8, updated_at = now() WHERE job_id = $1 AND vehicle = $2`,
		id, vehicle, state, replyCode, res.Status, reply, errText, latency); err != nil && ctx.Err() == nil {
		s.log.Warn("command job outcome not stored", "job", id, "vehicle", vehicle, "err", err)
	}
}

// finishCommandJob marks a job done once no vehicle is pending or sending, auditing the
// outcome counts on behalf of its creator.
func (s *Service) finishCommandJob(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, s.cfg.PG, func(tx pgx.Tx) error {
		var adminID, email string
		err := tx.QueryRow(ctx, `UPDATE command_jobs j SET state = 'done', finished_at = now() FROM admins a
 WHERE j.id = $1 AND j.state = 'running' AND a.id = j.created_by
   AND NOT EXISTS (SELECT 1 FROM command_job_vehicles v WHERE v.job_id = j.id AND v.state IN ('pending', 'sending'))
 RETURNING a.id::text, a.email`, id).Scan(&adminID, &email)
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		counts, err := stateCounts(ctx, tx, `SELECT state, count(*) FROM command_job_vehicles WHERE job_id = $1 GROUP BY state`, id)
		if err != nil {
			return err
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: audit.Actor{AdminID: adminID, Email: email}, Action: "command_job.finish",
			TargetType: "command_job", TargetID: id, Details: map[string]any{"counts": counts}})
		if err == nil {
			s.log.Info("command job finished", "job", id, "counts", counts)
		}
		return err
	})
}

func stateCounts(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql, id string) (map[string]int, error) {
	rows, err := q.Query(ctx, sql, id)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return nil, err
		}
		counts[st] = n
	}
	rows.Close()
	return counts, rows.Err()
}

// sweepCommandJobs resumes running jobs this process does not run (created while Run was
// not up, or left by a stopped process), closes rows left "sending" by a stopped process, and
// finishes jobs with nothing left.
func (s *Service) sweepCommandJobs(ctx context.Context) error {
	// A row is "sending" at most timeout + the downlink margin; far beyond, its sender is gone.
	if _, err := s.cfg.PG.Exec(ctx, `UPDATE command_job_vehicles v SET state = 'error', error = 'interrupted: the process sending it stopped', updated_at = now()
 FROM command_jobs j WHERE j.id = v.job_id AND j.state = 'running' AND v.state = 'sending'
   AND v.updated_at < now() - make_interval(secs => j.timeout_ms / 1000.0 + 120)`); err != nil {
		return fmt.Errorf("fleetops: sweep: %w", err)
	}
	rows, err := s.cfg.PG.Query(ctx, `SELECT id::text FROM command_jobs WHERE state = 'running' ORDER BY created_at`)
	if err != nil {
		return fmt.Errorf("fleetops: sweep: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("fleetops: sweep: %w", err)
	}
	for _, id := range ids {
		s.mu.Lock()
		busy := s.running[id]
		s.mu.Unlock()
		if !busy {
			s.startCommandJob(id)
		}
	}
	return nil
}

// CommandJob returns a job with its progress; state filters the vehicle list.
func (s *Service) CommandJob(ctx context.Context, id, state string) (CommandJob, error) {
	var j CommandJob
	var fields, selector []byte
	var finished *time.Time
	err := s.cfg.PG.QueryRow(ctx, `SELECT id::text, city, code, fields, selector, concurrency, timeout_ms, state, created_by::text, created_at, finished_at
 FROM command_jobs WHERE id = $1`, id).Scan(&j.ID, &j.City, &j.Code, &fields, &selector, &j.Concurrency, &j.TimeoutMs, &j.State,
		&j.CreatedBy, &j.CreatedAt, &finished)
	if isNoRows(err) {
		return CommandJob{}, fmt.Errorf("%w: command job %s", ErrNotFound, id)
	}
	if err != nil {
		return CommandJob{}, fmt.Errorf("fleetops: command job %s: %w", id, err)
	}
	j.CreatedAt = j.CreatedAt.UTC()
	if finished != nil {
		j.FinishedAt = finished.UTC()
	}
	if err := json.Unmarshal(fields, &j.Fields); err != nil {
		return CommandJob{}, fmt.Errorf("fleetops: command job %s fields: %w", id, err)
	}
	if err := json.Unmarshal(selector, &j.Selector); err != nil {
		return CommandJob{}, fmt.Errorf("fleetops: command job %s selector: %w", id, err)
	}
	rows, err := s.cfg.PG.Query(ctx, `SELECT vehicle, state, coalesce(reply_code, 0), status, reply, error, coalesce(latency_ms, 0), updated_at
 FROM command_job_vehicles WHERE job_id = $1 ORDER BY vehicle`, id)
	if err != nil {
		return CommandJob{}, fmt.Errorf("fleetops: command job %s: %w", id, err)
	}
	defer rows.Close()
	j.Counts, j.Vehicles = map[string]int{}, []CommandJobVehicle{}
	for rows.Next() {
		var v CommandJobVehicle
		var status *int
		var reply []byte
		if err := rows.Scan(&v.Vehicle, &v.State, &v.ReplyCode, &status, &reply, &v.Error, &v.LatencyMs, &v.UpdatedAt); err != nil {
			return CommandJob{}, fmt.Errorf("fleetops: command job %s: %w", id, err)
		}
		j.Total++
		j.Counts[v.State]++
		if v.State != "pending" && v.State != "sending" {
			j.Done++
		}
		if state != "" && v.State != state {
			continue
		}
		if status != nil {
			v.HasStatus, v.Status = true, *status
		}
		v.Reply, v.UpdatedAt = decodeObject(reply), v.UpdatedAt.UTC()
		j.Vehicles = append(j.Vehicles, v)
	}
	if err := rows.Err(); err != nil {
		return CommandJob{}, fmt.Errorf("fleetops: command job %s: %w", id, err)
	}
	return j, nil
}
