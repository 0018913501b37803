package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names this package owns in the bbolt file. Another package may share
// the *bolt.DB as long as it stays out of these buckets.
var (
	bucketTelemetry = []byte("outbox.telemetry")
	bucketEvents    = []byte("outbox.events")
	bucketMeta      = []byte("outbox.meta")
	keyNextSeq      = []byte("next_seq")
)

// keyOverhead is what a key adds to a record's accounted size.
const keyOverhead = 8

// Defaults used when an Options field is zero.
const (
	DefaultMaxBatch      = 4096
	DefaultMaxBatchBytes = 8 << 20
	DefaultMaxPending    = 65536
	DefaultMaxPayload    = 1 << 20
)

// Options configures an Outbox. The zero value is usable: unbounded size,
// default batch and queue limits, wall clock, discarded logs.
type Options struct {
	// MaxBytes is the soft bound on stored bytes (8-byte key + encoded value
	// per record; the bbolt file itself is larger and never shrinks). When a
	// commit leaves the outbox above it, the oldest telemetry is dropped until
	// it fits or no telemetry is left. 0 = no bound.
	MaxBytes uint64
	// MaxRecords is the same bound counted in records. 0 = no bound.
	MaxRecords uint64
	// MaxEventBytes, if not 0, rejects an event Append with ErrFull when the
	// stored events plus the new one would exceed it. 0 = events are accepted
	// until the disk is full (the default: an event is never refused while
	// there is space, see doc.go).
	MaxEventBytes uint64
	// MaxBatch caps the records and delete requests in one transaction.
	MaxBatch int
	// MaxBatchBytes caps the encoded bytes appended in one transaction (a
	// single larger record still goes alone).
	MaxBatchBytes int
	// MaxPending caps the requests waiting for the committer that AppendAsync
	// accepts; beyond it AppendAsync fails with ErrQueueFull. Blocking
	// Append is not capped (its callers are the bound).
	MaxPending int
	// MaxPayload caps Record.Payload. Negative = no cap.
	MaxPayload int
	// Now is the clock for Record.Appended and the oldest-age stat; it is
	// called from many goroutines.
	Now func() time.Time
	// Logger receives over-bound warnings.
	Logger *slog.Logger
	// OnCommit, if set, is called by the committer goroutine after every
	// transaction (successful or not), e.g. to feed Prometheus histograms. It
	// must return quickly and must not call the Outbox.
	OnCommit func(CommitInfo)
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// CommitInfo describes one group-commit transaction.
type CommitInfo struct {
	Appended int           // records written
	Deleted  int           // records removed by Delete/DeleteThrough
	Dropped  int           // telemetry dropped by the size bound
	Requests int           // requests served (appends + deletes + rejected)
	Duration time.Duration // transaction time including fsync
	Err      error         // non-nil if the transaction failed
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opDelete
	opDeleteThrough
)

const (
	reqPending uint32 = iota
	reqTaken
	reqCanceled
)

// request is one caller's operation waiting for the committer.
type request struct {
	op      opKind
	class   Class
	val     []byte   // opAppend: encoded value
	seqs    []uint64 // opDelete
	through uint64   // opDeleteThrough

	state atomic.Uint32
	done  chan struct{}               // closed by the committer; nil for async
	cb    func(seq uint64, err error) // async completion; may be nil

	seq uint64 // opAppend result
	n   int    // deletes result
	err error
}

// state is what the committer knows about the stored records. Only the
// committer goroutine writes it (under statsMu, so Stats can read it).
type state struct {
	nextSeq        uint64
	telRecords     uint64
	evRecords      uint64
	telBytes       uint64
	evBytes        uint64
	oldestSeq      uint64
	oldestAppended time.Time
	overBound      bool
}

func (s *state) records() uint64 { return s.telRecords + s.evRecords }
func (s *state) bytes() uint64   { return s.telBytes + s.evBytes }

// counters are cumulative since Open.
type counters struct {
	appended          uint64
	appendedTelemetry uint64
	appendedEvents    uint64
	droppedTelemetry  uint64
	deleted           uint64
	rejectedFull      uint64
	commits           uint64
	commitErrors      uint64
	commitTime        time.Duration
	lastBatch         int
	lastCommit        time.Duration
	maxBatch          int
	commitHist        histogram // seconds per transaction
	batchHist         histogram // requests per transaction
}

// Outbox is the durable, bounded, seq-ordered store-and-forward queue. It is
// safe for concurrent use; see doc.go for the contract.
type Outbox struct {
	db     *bolt.DB
	ownsDB bool
	opts   Options
	log    *slog.Logger

	// mu guards the queue, the closed flag, lastSeq and changed.
	mu      sync.Mutex
	pending []*request
	taken   uint64 // requests ever taken by the committer (tests use it)
	closed  bool
	lastSeq uint64        // highest seq committed (or ever assigned before Open)
	changed chan struct{} // closed and replaced after each commit that appended

	wake    chan struct{} // cap 1: there is work for the committer
	stopped chan struct{} // closed when the committer has exited

	// statsMu guards st and ctr; only the committer writes them.
	statsMu sync.RWMutex
	st      state
	ctr     counters

	closeOnce sync.Once
	closeErr  error
}

// BoltOptions are the bbolt options Open uses; pass them to bbolt.Open when
// the gateway shares one file between the outbox and other stores.
func BoltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout: time.Second,
		// The freelist is rebuilt by a scan on open instead of being written
		// at every commit: cheaper commits, same durability.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}
}

// Open opens (creating if needed) a bbolt file used only by this Outbox and
// starts the committer. Close closes the file.
func Open(path string, opts Options) (*Outbox, error) {
	db, err := bolt.Open(path, 0o600, BoltOptions())
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	o, err := New(db, opts)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	o.ownsDB = true
	return o, nil
}

// New uses an open bbolt database, touching only the outbox.* buckets, and
// starts the committer. Close stops the committer but leaves db open.
func New(db *bolt.DB, opts Options) (*Outbox, error) {
	if db == nil {
		return nil, errors.New("outbox: nil database")
	}
	opts = opts.withDefaults()
	o := &Outbox{
		db:      db,
		opts:    opts,
		log:     opts.Logger.With("component", "outbox"),
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	if err := o.load(); err != nil {
		return nil, err
	}
	o.lastSeq = o.st.nextSeq - 1
	go o.run()
	return o, nil
}

// load creates the buckets and rebuilds the in-memory state by a scan.
func (o *Outbox) load() error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		var bs [3]*bolt.Bucket
		for i, name := range [][]byte{bucketTelemetry, bucketEvents, bucketMeta} {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			bs[i] = b
		}
		tel, ev, meta := bs[0], bs[1], bs[2]
		st := state{nextSeq: 1}
		if v := meta.Get(keyNextSeq); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("%w: next_seq has %d bytes", ErrCorrupt, len(v))
			}
			st.nextSeq = max(st.nextSeq, binary.BigEndian.Uint64(v))
		}
		scan := func(b *bolt.Bucket, n, size *uint64) error {
			return b.ForEach(func(k, v []byte) error {
				if len(k) != 8 {
					return fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(k))
				}
				*n++
				*size += uint64(keyOverhead + len(v))
				return nil
			})
		}
		if err := scan(tel, &st.telRecords, &st.telBytes); err != nil {
			return err
		}
		if err := scan(ev, &st.evRecords, &st.evBytes); err != nil {
			return err
		}
		// Belt and braces: never hand out a seq at or below a stored one.
		for _, b := range []*bolt.Bucket{tel, ev} {
			if k, _ := b.Cursor().Last(); k != nil {
				st.nextSeq = max(st.nextSeq, binary.BigEndian.Uint64(k)+1)
			}
		}
		o.findOldest(tel, ev, &st)
		o.st = st
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: load: %w", err)
	}
	return nil
}

// findOldest sets st.oldestSeq/oldestAppended from the first key of each bucket.
func (o *Outbox) findOldest(tel, ev *bolt.Bucket, st *state) {
	st.oldestSeq, st.oldestAppended = 0, time.Time{}
	var best []byte
	var bestV []byte
	for _, b := range []*bolt.Bucket{tel, ev} {
		k, v := b.Cursor().First()
		if k != nil && (best == nil || binary.BigEndian.Uint64(k) < binary.BigEndian.Uint64(best)) {
			best, bestV = k, v
		}
	}
	if best == nil {
		return
	}
	st.oldestSeq = binary.BigEndian.Uint64(best)
	if t, ok := peekAppended(bestV); ok {
		st.oldestAppended = t
	}
}

// Append stores r durably and returns its seq once the transaction holding
// it is fsync'd. Concurrent calls share transactions (group commit).
//
// If ctx ends before the committer has taken the record, Append returns
// ctx's error and the record is not stored. If the committer already took
// it, Append waits for that transaction (bounded by one commit) and returns
// its real outcome. So err == nil ⇔ the record is durable.
func (o *Outbox) Append(ctx context.Context, r Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("outbox: append: %w", err)
	}
	req, err := o.newAppend(&r)
	if err != nil {
		return 0, err
	}
	req.done = make(chan struct{})
	if err := o.enqueue(req, false); err != nil {
		return 0, err
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqPending, reqCanceled) {
			return 0, fmt.Errorf("outbox: append: %w", ctx.Err())
		}
		<-req.done
	}
	return req.seq, req.err
}

// AppendAsync queues r and returns at once. done, if not nil, is called
// from the committer goroutine once the record is durable (or failed); it
// must return quickly and must not call the Outbox. An error return means
// the record was not queued and done will not be called.
func (o *Outbox) AppendAsync(r Record, done func(seq uint64, err error)) error {
	req, err := o.newAppend(&r)
	if err != nil {
		return err
	}
	req.cb = done
	return o.enqueue(req, true)
}

func (o *Outbox) newAppend(r *Record) (*request, error) {
	if err := validate(r, o.opts.MaxPayload); err != nil {
		return nil, fmt.Errorf("outbox: append: %w", err)
	}
	val := encode(make([]byte, 0, encodedLen(r)), r, o.opts.Now())
	return &request{op: opAppend, class: r.Class, val: val}, nil
}

// Delete removes the given seqs (those still present; unknown seqs are
// ignored) durably and returns how many were removed. It shares the group
// commit with appends.
func (o *Outbox) Delete(ctx context.Context, seqs ...uint64) (int, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	return o.doDelete(ctx, &request{op: opDelete, seqs: append([]uint64(nil), seqs...)})
}

// DeleteThrough removes every record with Seq ≤ seq durably and returns how
// many were removed.
func (o *Outbox) DeleteThrough(ctx context.Context, seq uint64) (int, error) {
	return o.doDelete(ctx, &request{op: opDeleteThrough, through: seq})
}

func (o *Outbox) doDelete(ctx context.Context, req *request) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("outbox: delete: %w", err)
	}
	req.done = make(chan struct{})
	if err := o.enqueue(req, false); err != nil {
		return 0, err
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqPending, reqCanceled) {
			return 0, fmt.Errorf("outbox: delete: %w", ctx.Err())
		}
		<-req.done
	}
	return req.n, req.err
}

func (o *Outbox) enqueue(req *request, async bool) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return fmt.Errorf("outbox: %w", ErrClosed)
	}
	if async && len(o.pending) >= o.opts.MaxPending {
		o.mu.Unlock()
		return fmt.Errorf("outbox: append: %w", ErrQueueFull)
	}
	o.pending = append(o.pending, req)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Wait blocks until a record with seq > afterSeq has been committed (it may
// since have been deleted or dropped), ctx ends, or the Outbox is closed.
func (o *Outbox) Wait(ctx context.Context, afterSeq uint64) error {
	for {
		o.mu.Lock()
		last, ch, closed := o.lastSeq, o.changed, o.closed
		o.mu.Unlock()
		switch {
		case last > afterSeq:
			return nil
		case closed:
			return fmt.Errorf("outbox: wait: %w", ErrClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("outbox: wait: %w", ctx.Err())
		}
	}
}

// LastSeq is the highest seq ever assigned (0 if none).
func (o *Outbox) LastSeq() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastSeq
}

// Close stops accepting requests (ErrClosed), lets the committer commit
// everything already queued, waits for it to exit, wakes Wait callers, and
// closes the bbolt file if Open created it. It is safe to call more than once.
func (o *Outbox) Close() error {
	o.closeOnce.Do(func() {
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		select {
		case o.wake <- struct{}{}:
		default:
		}
		<-o.stopped
		o.mu.Lock()
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
		if o.ownsDB {
			if err := o.db.Close(); err != nil {
				o.closeErr = fmt.Errorf("outbox: close: %w", err)
			}
		}
	})
	return o.closeErr
}

// run is the committer: the only goroutine that writes to the outbox
// buckets. It exits when Close has been called and the queue is empty.
func (o *Outbox) run() {
	defer close(o.stopped)
	var batch []*request
	for range o.wake {
		for {
			var closing bool
			batch, closing = o.take(batch[:0])
			if len(batch) == 0 {
				if closing {
					return
				}
				break
			}
			o.commit(batch)
			clear(batch)
			// Let the callers just released re-enqueue before the next take:
			// with N steady appenders batches grow from ~N/2 to ~3N/4 per
			// commit (measured at N=64). A yield, not a timer: it adds no
			// latency when nothing else is runnable.
			runtime.Gosched()
		}
	}
}

// take moves up to MaxBatch live requests from the queue into batch. It
// reports closing when the Outbox is closed (the queue can then only shrink).
func (o *Outbox) take(batch []*request) ([]*request, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	i, size := 0, 0
	for ; i < len(o.pending) && len(batch) < o.opts.MaxBatch; i++ {
		req := o.pending[i]
		if len(batch) > 0 && size+len(req.val) > o.opts.MaxBatchBytes {
			break
		}
		if req.state.CompareAndSwap(reqPending, reqTaken) {
			batch = append(batch, req)
			size += len(req.val)
			o.taken++
		}
	}
	n := copy(o.pending, o.pending[i:])
	clear(o.pending[n:])
	o.pending = o.pending[:n]
	return batch, o.closed
}

// commit runs one transaction for batch and completes its requests.
func (o *Outbox) commit(batch []*request) {
	o.statsMu.RLock()
	st := o.st
	o.statsMu.RUnlock()

	start := time.Now()
	var info CommitInfo
	info.Requests = len(batch)
	keys := make([]byte, 0, 8*len(batch))
	err := o.db.Update(func(tx *bolt.Tx) error {
		tel, ev, meta := tx.Bucket(bucketTelemetry), tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
		if tel == nil || ev == nil || meta == nil {
			return fmt.Errorf("%w: outbox buckets missing", ErrCorrupt)
		}
		// Keys only ever grow: pack pages full.
		tel.FillPercent, ev.FillPercent = 1.0, 1.0

		for _, req := range batch {
			var err error
			switch req.op {
			case opDelete:
				req.n, err = deleteSeqs(tel, ev, req.seqs, &st)
			case opDeleteThrough:
				req.n, err = deleteThrough(tel, ev, req.through, &st)
			default:
				continue
			}
			if err != nil {
				return err
			}
			info.Deleted += req.n
		}

		seq := st.nextSeq
		for _, req := range batch {
			if req.op != opAppend {
				continue
			}
			size := uint64(keyOverhead + len(req.val))
			if req.class == ClassEvent && o.opts.MaxEventBytes > 0 && st.evBytes+size > o.opts.MaxEventBytes {
				req.err = fmt.Errorf("outbox: append: %w", ErrFull)
				continue
			}
			keys = binary.BigEndian.AppendUint64(keys, seq)
			k := keys[len(keys)-8:]
			b := tel
			if req.class == ClassEvent {
				b = ev
			}
			if err := b.Put(k, req.val); err != nil {
				return err
			}
			if req.class == ClassEvent {
				st.evRecords++
				st.evBytes += size
			} else {
				st.telRecords++
				st.telBytes += size
			}
			req.seq = seq
			seq++
			info.Appended++
		}
		if seq != st.nextSeq {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], seq)
			if err := meta.Put(keyNextSeq, v[:]); err != nil {
				return err
			}
			st.nextSeq = seq
		}

		dropped, err := o.trim(tel, &st)
		if err != nil {
			return err
		}
		info.Dropped = dropped
		o.findOldest(tel, ev, &st)
		return nil
	})
	info.Duration = time.Since(start)
	info.Err = err

	if err != nil {
		err = fmt.Errorf("outbox: commit: %w", err)
		for _, req := range batch {
			req.seq, req.n, req.err = 0, 0, err
		}
	}
	o.publish(st, info, batch, err == nil)
	if o.opts.OnCommit != nil {
		o.opts.OnCommit(info)
	}
	for _, req := range batch {
		if req.done != nil {
			close(req.done)
		} else if req.cb != nil {
			req.cb(req.seq, req.err)
		}
	}
}

// publish makes a commit's outcome visible to Stats and Wait.
func (o *Outbox) publish(st state, info CommitInfo, batch []*request, ok bool) {
	var rejected, tel, ev uint64
	for _, req := range batch {
		switch {
		case req.op != opAppend:
		case errors.Is(req.err, ErrFull):
			rejected++
		case req.err == nil && req.class == ClassEvent:
			ev++
		case req.err == nil:
			tel++
		}
	}
	o.statsMu.Lock()
	wasOver := o.st.overBound
	c := &o.ctr
	c.commits++
	c.lastBatch = info.Requests
	c.maxBatch = max(c.maxBatch, info.Requests)
	c.lastCommit = info.Duration
	c.commitTime += info.Duration
	c.commitHist.observe(commitSecondsBuckets, info.Duration.Seconds())
	c.batchHist.observe(batchSizeBuckets, float64(info.Requests))
	if ok {
		o.st = st
		c.appended += uint64(info.Appended)
		c.appendedTelemetry += tel
		c.appendedEvents += ev
		c.droppedTelemetry += uint64(info.Dropped)
		c.deleted += uint64(info.Deleted)
		c.rejectedFull += rejected
	} else {
		c.commitErrors++
	}
	nowOver := o.st.overBound
	o.statsMu.Unlock()

	if ok && wasOver != nowOver {
		if nowOver {
			o.log.Warn("outbox over bound with no telemetry left to drop; accepting events beyond it",
				"records", st.records(), "bytes", st.bytes(),
				"max_records", o.opts.MaxRecords, "max_bytes", o.opts.MaxBytes)
		} else {
			o.log.Info("outbox back within bound", "records", st.records(), "bytes", st.bytes())
		}
	}
	if ok && info.Appended > 0 {
		o.mu.Lock()
		o.lastSeq = st.nextSeq - 1
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
	}
}

// trim drops the oldest telemetry while the outbox is above its bound and
// sets st.overBound when telemetry alone cannot bring it back.
func (o *Outbox) trim(tel *bolt.Bucket, st *state) (int, error) {
	over := func() bool {
		return (o.opts.MaxBytes > 0 && st.bytes() > o.opts.MaxBytes) ||
			(o.opts.MaxRecords > 0 && st.records() > o.opts.MaxRecords)
	}
	if !over() {
		st.overBound = false
		return 0, nil
	}
	var keys [][]byte
	c := tel.Cursor()
	for k, v := c.First(); k != nil && over(); k, v = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
		st.telRecords--
		st.telBytes -= uint64(keyOverhead + len(v))
	}
	for _, k := range keys {
		if err := tel.Delete(k); err != nil {
			return 0, err
		}
	}
	st.overBound = over()
	return len(keys), nil
}

func deleteSeqs(tel, ev *bolt.Bucket, seqs []uint64, st *state) (int, error) {
	var k [8]byte
	n := 0
	for _, seq := range seqs {
		binary.BigEndian.PutUint64(k[:], seq)
		if v := tel.Get(k[:]); v != nil {
			st.telRecords--
			st.telBytes -= uint64(keyOverhead + len(v))
			if err := tel.Delete(k[:]); err != nil {
				return 0, err
			}
			n++
		} else if v := ev.Get(k[:]); v != nil {
			st.evRecords--
			st.evBytes -= uint64(keyOverhead + len(v))
			if err := ev.Delete(k[:]); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

func deleteThrough(tel, ev *bolt.Bucket, through uint64, st *state) (int, error) {
	n := 0
	for _, b := range []*bolt.Bucket{tel, ev} {
		var keys [][]byte
		var size uint64
		c := b.Cursor()
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= through; k, v = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
			size += uint64(keyOverhead + len(v))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return 0, err
			}
		}
		if b == tel {
			st.telRecords -= uint64(len(keys))
			st.telBytes -= size
		} else {
			st.evRecords -= uint64(len(keys))
			st.evBytes -= size
		}
		n += len(keys)
	}
	return n, nil
}

// Read returns up to limit records with Seq > afterSeq in seq order (telemetry
// and events interleaved as appended). An empty result means nothing is
// stored after afterSeq. A value that does not decode stops the read with a
// *CorruptRecordError (the records before it are returned with it).
func (o *Outbox) Read(afterSeq uint64, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("outbox: read: %w", ErrClosed)
	}
	var out []Record
	err := o.db.View(func(tx *bolt.Tx) error {
		tel, ev := tx.Bucket(bucketTelemetry), tx.Bucket(bucketEvents)
		if tel == nil || ev == nil {
			return fmt.Errorf("%w: outbox buckets missing", ErrCorrupt)
		}
		if afterSeq == ^uint64(0) {
			return nil
		}
		var from [8]byte
		binary.BigEndian.PutUint64(from[:], afterSeq+1)
		tc, ec := tel.Cursor(), ev.Cursor()
		tk, tv := tc.Seek(from[:])
		ek, evv := ec.Seek(from[:])
		for len(out) < limit && (tk != nil || ek != nil) {
			var k, v []byte
			if ek == nil || (tk != nil && binary.BigEndian.Uint64(tk) < binary.BigEndian.Uint64(ek)) {
				k, v = tk, tv
				tk, tv = tc.Next()
			} else {
				k, v = ek, evv
				ek, evv = ec.Next()
			}
			r, err := decode(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			err = ErrClosed
		}
		return out, fmt.Errorf("outbox: read: %w", err)
	}
	return out, nil
}

// Stats is a snapshot for metrics. Depth values describe what is stored now;
// counters are cumulative since Open.
type Stats struct {
	Records        uint64        // records stored (depth)
	Telemetry      uint64        // of which telemetry
	Events         uint64        // of which events
	Bytes          uint64        // accounted bytes (8 per key + encoded value)
	EventBytes     uint64        // of which events
	LastSeq        uint64        // highest seq ever assigned
	OldestSeq      uint64        // 0 when empty
	OldestAppended time.Time     // zero when empty
	OldestAge      time.Duration // Now - OldestAppended; 0 when empty
	OverBound      bool          // above MaxBytes/MaxRecords with no telemetry left to drop
	Pending        int           // requests waiting for the committer

	Appended          uint64 // records committed
	AppendedTelemetry uint64
	AppendedEvents    uint64
	DroppedTelemetry  uint64 // telemetry removed by the size bound
	Deleted           uint64 // records removed by Delete/DeleteThrough
	RejectedFull      uint64 // events refused with ErrFull
	Commits           uint64 // transactions attempted
	CommitErrors      uint64 // transactions that failed
	CommitTime        time.Duration
	LastBatch         int // requests in the last transaction
	MaxBatchSeen      int
	LastCommit        time.Duration // duration of the last transaction
}

// Stats returns a snapshot; cheap enough for every Prometheus scrape.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	pending, last := len(o.pending), o.lastSeq
	o.mu.Unlock()
	o.statsMu.RLock()
	st, c := o.st, o.ctr
	o.statsMu.RUnlock()
	s := Stats{
		Records: st.records(), Telemetry: st.telRecords, Events: st.evRecords,
		Bytes: st.bytes(), EventBytes: st.evBytes, LastSeq: last,
		OldestSeq: st.oldestSeq, OldestAppended: st.oldestAppended,
		OverBound: st.overBound, Pending: pending,
		Appended: c.appended, AppendedTelemetry: c.appendedTelemetry, AppendedEvents: c.appendedEvents,
		DroppedTelemetry: c.droppedTelemetry, Deleted: c.deleted, RejectedFull: c.rejectedFull,
		Commits: c.commits, CommitErrors: c.commitErrors, CommitTime: c.commitTime,
		LastBatch: c.lastBatch, MaxBatchSeen: c.maxBatch, LastCommit: c.lastCommit,
	}
	if !st.oldestAppended.IsZero() {
		s.OldestAge = max(0, o.opts.Now().Sub(st.oldestAppended))
	}
	return s
}

// Path returns the bbolt file path (for logs).
func (o *Outbox) Path() string { return o.db.Path() }
