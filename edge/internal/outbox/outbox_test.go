package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T, opts Options) (*Outbox, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o, path
}

func rec(class Class, vehicle string, i int) Record {
	return Record{
		Class:   class,
		Time:    time.Unix(1_700_000_000, int64(i)).UTC(),
		Vehicle: vehicle,
		Kind:    "gps",
		Payload: fmt.Appendf(nil, "payload-%s-%d", vehicle, i),
	}
}

func mustAppend(t *testing.T, o *Outbox, r Record) uint64 {
	t.Helper()
	seq, err := o.Append(context.Background(), r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return seq
}

func readAll(t *testing.T, o *Outbox) []Record {
	t.Helper()
	var all []Record
	var after uint64
	for {
		rs, err := o.Read(after, 7)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(rs) == 0 {
			return all
		}
		all = append(all, rs...)
		after = rs[len(rs)-1].Seq
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	appended := time.Unix(1_800_000_000, 123).UTC()
	tests := []struct {
		name string
		r    Record
	}{
		{"full", Record{Class: ClassEvent, Time: time.Unix(5, 6), Vehicle: "123456", Kind: "ride.end", Payload: []byte{0, 1, 2, 255}}},
		{"zero time, empty fields", Record{Class: ClassTelemetry}},
		{"negative time", Record{Class: ClassTelemetry, Time: time.Unix(-100, 0), Kind: "x"}},
		{"utf8 and big payload", Record{Class: ClassEvent, Vehicle: "véhicule", Kind: "ñ", Payload: bytes.Repeat([]byte("ab"), 5000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validate(&tt.r, DefaultMaxPayload); err != nil {
				t.Fatalf("validate: %v", err)
			}
			b := encode(nil, &tt.r, appended)
			if len(b) > encodedLen(&tt.r) {
				t.Fatalf("encoded %d bytes, bound %d", len(b), encodedLen(&tt.r))
			}
			got, err := decode(42, b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tt.r
			want.Seq, want.Appended = 42, appended
			assertRecord(t, got, want)
			if at, ok := peekAppended(b); !ok || !at.Equal(appended) {
				t.Fatalf("peekAppended = %v %v", at, ok)
			}
		})
	}
}

func assertRecord(t *testing.T, got, want Record) {
	t.Helper()
	if got.Seq != want.Seq || got.Class != want.Class || got.Vehicle != want.Vehicle || got.Kind != want.Kind ||
		!bytes.Equal(got.Payload, want.Payload) || !got.Time.Equal(want.Time) || got.Time.IsZero() != want.Time.IsZero() ||
		(!want.Appended.IsZero() && !got.Appended.Equal(want.Appended)) {
		t.Fatalf("record mismatch:\n got  %+v\n want %+v", got, want)
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	good := encode(nil, &Record{Class: ClassEvent, Vehicle: "v1", Kind: "k", Payload: []byte("hello")}, time.Unix(1, 0))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := map[string][]byte{
		"empty":           nil,
		"short":           good[:5],
		"truncated":       good[:len(good)-1],
		"flipped version": flip(0),
		"flipped payload": flip(len(good) - 6),
		"flipped crc":     flip(len(good) - 1),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decode(7, b)
			var ce *CorruptRecordError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Seq != 7 {
				t.Fatalf("decode err = %v, want CorruptRecordError seq 7", err)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bodies with a valid checksum appended, so the
// parser behind the CRC check is exercised, not just the CRC.
func FuzzDecode(f *testing.F) {
	withoutCRC := func(b []byte) []byte { return b[:len(b)-crcLen] }
	f.Add(withoutCRC(encode(nil, &Record{Class: ClassEvent, Vehicle: "v", Kind: "k", Payload: []byte("p")}, time.Unix(1, 0))))
	f.Add(withoutCRC(encode(nil, &Record{Class: ClassTelemetry, Time: time.Unix(9, 9)}, time.Unix(1, 0))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		r, err := decode(1, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever decodes must survive a re-encode unchanged.
		again, err := decode(1, encode(nil, &r, r.Appended))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		assertRecord(t, again, r)
	})
}

func TestAppendValidation(t *testing.T) {
	o, _ := openTest(t, Options{MaxPayload: 10})
	tests := []struct {
		name string
		r    Record
		want error
	}{
		{"no class", Record{Kind: "x"}, ErrInvalidRecord},
		{"unknown class", Record{Class: 9}, ErrInvalidRecord},
		{"long vehicle", Record{Class: ClassEvent, Vehicle: strings.Repeat("v", 256)}, ErrInvalidRecord},
		{"long kind", Record{Class: ClassEvent, Kind: strings.Repeat("k", 256)}, ErrInvalidRecord},
		{"bad utf8", Record{Class: ClassEvent, Vehicle: "\xff"}, ErrInvalidRecord},
		{"payload too large", Record{Class: ClassEvent, Payload: make([]byte, 11)}, ErrRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := o.Append(context.Background(), tt.r); !errors.Is(err, tt.want) {
				t.Fatalf("Append err = %v, want %v", err, tt.want)
			}
			if err := o.AppendAsync(tt.r, nil); !errors.Is(err, tt.want) {
				t.Fatalf("AppendAsync err = %v, want %v", err, tt.want)
			}
		})
	}
	if s := o.Stats(); s.Records != 0 || s.LastSeq != 0 {
		t.Fatalf("invalid records were stored: %+v", s)
	}
}

func TestAppendReadDeleteInOrder(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	o, _ := openTest(t, Options{Now: func() time.Time { return now }})
	var want []Record
	for i := range 20 {
		class := ClassTelemetry
		if i%3 == 0 {
			class = ClassEvent
		}
		r := rec(class, "v1", i)
		seq := mustAppend(t, o, r)
		if seq != uint64(i+1) {
			t.Fatalf("append %d got seq %d", i, seq)
		}
		r.Seq, r.Appended = seq, now
		want = append(want, r)
	}
	got := readAll(t, o)
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		assertRecord(t, got[i], want[i])
	}
	if rs, err := o.Read(5, 3); err != nil || len(rs) != 3 || rs[0].Seq != 6 || rs[2].Seq != 8 {
		t.Fatalf("Read(5,3) = %v, %v", rs, err)
	}
	if rs, err := o.Read(^uint64(0), 3); err != nil || len(rs) != 0 {
		t.Fatalf("Read(max) = %v, %v", rs, err)
	}

	ctx := context.Background()
	if n, err := o.DeleteThrough(ctx, 10); err != nil || n != 10 {
		t.Fatalf("DeleteThrough(10) = %d, %v", n, err)
	}
	if n, err := o.Delete(ctx, 12, 13, 12, 999, 3); err != nil || n != 2 {
		t.Fatalf("Delete = %d, %v; want 2 (dups, unknown and already deleted ignored)", n, err)
	}
	got = readAll(t, o)
	var seqs []uint64
	for _, r := range got {
		seqs = append(seqs, r.Seq)
	}
	if fmt.Sprint(seqs) != "[11 14 15 16 17 18 19 20]" {
		t.Fatalf("after deletes seqs = %v", seqs)
	}
	s := o.Stats()
	var bytes uint64
	for _, r := range got {
		bytes += uint64(keyOverhead + len(encode(nil, &r, r.Appended)))
	}
	if s.Records != 8 || s.Bytes != bytes || s.Deleted != 12 || s.Appended != 20 || s.OldestSeq != 11 || s.LastSeq != 20 {
		t.Fatalf("stats = %+v (want 8 records, %d bytes)", s, bytes)
	}
}

func TestSeqNeverReusedAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	var last uint64
	for round := range 3 {
		o, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := o.LastSeq(); got != last {
			t.Fatalf("round %d: LastSeq after open = %d, want %d", round, got, last)
		}
		for i := range 4 {
			seq := mustAppend(t, o, rec(ClassEvent, "v", i))
			if seq != last+1 {
				t.Fatalf("round %d: seq %d, want %d", round, seq, last+1)
			}
			last = seq
		}
		// Empty the outbox: the next round must still continue above last.
		if _, err := o.DeleteThrough(context.Background(), last); err != nil {
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDropPolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("records bound drops oldest telemetry, keeps events", func(t *testing.T) {
		o, _ := openTest(t, Options{MaxRecords: 10})
		var events []uint64
		for i := range 25 {
			class := ClassTelemetry
			if i%5 == 0 {
				class = ClassEvent
			}
			seq := mustAppend(t, o, rec(class, "v", i))
			if class == ClassEvent {
				events = append(events, seq)
			}
		}
		got := readAll(t, o)
		var gotEvents, gotTel []uint64
		for _, r := range got {
			if r.Class == ClassEvent {
				gotEvents = append(gotEvents, r.Seq)
			} else {
				gotTel = append(gotTel, r.Seq)
			}
		}
		if fmt.Sprint(gotEvents) != fmt.Sprint(events) {
			t.Fatalf("events %v, want all of %v", gotEvents, events)
		}
		if fmt.Sprint(gotTel) != "[20 22 23 24 25]" {
			t.Fatalf("telemetry kept %v, want the 5 newest", gotTel)
		}
		s := o.Stats()
		if s.Records != 10 || s.DroppedTelemetry != 15 || s.OverBound {
			t.Fatalf("stats %+v", s)
		}

		// Only events left beyond the bound: still accepted, OverBound raised.
		for i := range 8 {
			mustAppend(t, o, rec(ClassEvent, "v", 100+i))
		}
		s = o.Stats()
		if s.Events != 13 || s.Telemetry != 0 || !s.OverBound || s.RejectedFull != 0 {
			t.Fatalf("over bound stats %+v", s)
		}
		// A telemetry record appended now is itself the oldest telemetry: dropped at once.
		seq, err := o.Append(ctx, rec(ClassTelemetry, "v", 200))
		if err != nil || seq == 0 {
			t.Fatalf("telemetry append over bound = %d, %v", seq, err)
		}
		if s2 := o.Stats(); s2.Telemetry != 0 || s2.DroppedTelemetry != s.DroppedTelemetry+1 {
			t.Fatalf("stats %+v", s2)
		}
		// Deleting (upstream ack) brings it back within bound.
		if _, err := o.DeleteThrough(ctx, seq); err != nil {
			t.Fatal(err)
		}
		if s := o.Stats(); s.OverBound || s.Records != 0 {
			t.Fatalf("stats after delete %+v", s)
		}
	})
	t.Run("bytes bound", func(t *testing.T) {
		one := uint64(keyOverhead + len(encode(nil, ptr(rec(ClassTelemetry, "v", 10)), time.Now())))
		o, _ := openTest(t, Options{MaxBytes: 4 * one})
		for i := 10; i < 20; i++ {
			mustAppend(t, o, rec(ClassTelemetry, "v", i))
		}
		s := o.Stats()
		if s.Records != 4 || s.Bytes > 4*one || s.DroppedTelemetry != 6 || s.OldestSeq != 7 {
			t.Fatalf("stats %+v (one record = %d bytes)", s, one)
		}
	})
	t.Run("MaxEventBytes rejects events, never drops them", func(t *testing.T) {
		one := uint64(keyOverhead + len(encode(nil, ptr(rec(ClassEvent, "v", 10)), time.Now())))
		o, _ := openTest(t, Options{MaxEventBytes: 3 * one})
		for i := 10; i < 13; i++ {
			mustAppend(t, o, rec(ClassEvent, "v", i))
		}
		if _, err := o.Append(ctx, rec(ClassEvent, "v", 13)); !errors.Is(err, ErrFull) {
			t.Fatalf("4th event err = %v, want ErrFull", err)
		}
		mustAppend(t, o, rec(ClassTelemetry, "v", 14)) // telemetry is not limited by it
		s := o.Stats()
		if s.Events != 3 || s.Telemetry != 1 || s.RejectedFull != 1 || s.LastSeq != 4 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestGroupCommitBatchesConcurrentAppends(t *testing.T) {
	var mu sync.Mutex
	var infos []CommitInfo
	o, _ := openTest(t, Options{OnCommit: func(ci CommitInfo) {
		mu.Lock()
		infos = append(infos, ci)
		mu.Unlock()
	}})
	const n = 300
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			seq, err := o.Append(context.Background(), rec(ClassTelemetry, fmt.Sprint("v", i), i))
			if err != nil {
				t.Error(err)
			}
			seqs[i] = seq
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, s := range seqs {
		if s == 0 || s > n || seen[s] {
			t.Fatalf("bad or duplicate seq %d", s)
		}
		seen[s] = true
	}
	s := o.Stats()
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(infos)) != s.Commits || s.Commits >= n || s.MaxBatchSeen < 2 {
		t.Fatalf("expected batching: %d commits for %d appends, max batch %d", s.Commits, n, s.MaxBatchSeen)
	}
	total := 0
	for _, ci := range infos {
		total += ci.Appended
		if ci.Err != nil || ci.Duration <= 0 {
			t.Fatalf("commit info %+v", ci)
		}
	}
	if total != n {
		t.Fatalf("OnCommit saw %d appended, want %d", total, n)
	}
}

// blockWriter holds bbolt's writer lock so the committer stalls inside its
// transaction; release lets it go on.
func blockWriter(t *testing.T, db *bolt.DB) (release func()) {
	t.Helper()
	tx, err := db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func openSharedTest(t *testing.T, opts Options) (*Outbox, *bolt.DB) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return o, db
}

func TestAppendContextCancel(t *testing.T) {
	o, db := openSharedTest(t, Options{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Append(ctx, rec(ClassEvent, "v", 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with dead ctx = %v", err)
	}

	release := blockWriter(t, db)
	// First append: taken by the committer, which then blocks on the writer lock.
	takenCtx, cancelTaken := context.WithCancel(context.Background())
	type res struct {
		seq uint64
		err error
	}
	takenRes := make(chan res, 1)
	go func() {
		seq, err := o.Append(takenCtx, rec(ClassEvent, "taken", 1))
		takenRes <- res{seq, err}
	}()
	waitFor(t, "committer to take the first append", func() bool { return takenCount(o) == 1 })

	// Second append stays queued; cancelling it means it is never stored.
	queuedCtx, cancelQueued := context.WithCancel(context.Background())
	queuedRes := make(chan res, 1)
	go func() {
		seq, err := o.Append(queuedCtx, rec(ClassEvent, "queued", 2))
		queuedRes <- res{seq, err}
	}()
	waitFor(t, "second append to queue", func() bool { return o.Stats().Pending == 1 })
	cancelQueued()
	if r := <-queuedRes; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("queued append after cancel = %+v", r)
	}
	// Cancelling the taken one does not abandon it: it reports the real outcome.
	cancelTaken()
	select {
	case r := <-takenRes:
		t.Fatalf("taken append returned before its commit: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
	release()
	if r := <-takenRes; r.err != nil || r.seq != 1 {
		t.Fatalf("taken append = %+v, want seq 1", r)
	}
	got := readAll(t, o)
	if len(got) != 1 || got[0].Vehicle != "taken" {
		t.Fatalf("stored %+v, want only the taken record", got)
	}
}

func takenCount(o *Outbox) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.taken
}

func TestCloseFlushesPendingAndRejectsAfter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := blockWriter(t, db)
	const n = 50
	var mu sync.Mutex
	acked := map[uint64]bool{}
	for i := range n {
		err := o.AppendAsync(rec(ClassEvent, "v", i), func(seq uint64, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("async append: %v", err)
			}
			acked[seq] = true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitErr := make(chan error, 1)
	go func() { waitErr <- o.Wait(waitCtx, 1000) }()

	closed := make(chan error, 1)
	go func() { closed <- o.Close() }()
	dead, cancelDead := context.WithCancel(context.Background())
	cancelDead()
	waitFor(t, "Close to mark closed", func() bool {
		return errors.Is(o.Wait(dead, ^uint64(0)-1), ErrClosed)
	})
	if _, err := o.Append(context.Background(), rec(ClassEvent, "late", 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
	mu.Lock()
	if len(acked) != n {
		t.Fatalf("%d of %d queued appends completed before Close returned", len(acked), n)
	}
	mu.Unlock()
	if err := o.AppendAsync(rec(ClassEvent, "v", 0), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppendAsync after Close = %v", err)
	}
	if _, err := o.Read(0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
	if _, err := o.DeleteThrough(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("DeleteThrough after Close = %v", err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	o2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if got := readAll(t, o2); len(got) != n {
		t.Fatalf("after reopen %d records, want %d", len(got), n)
	}
}

func TestAsyncQueueFull(t *testing.T) {
	o, db := openSharedTest(t, Options{MaxPending: 3})
	release := blockWriter(t, db)
	done := make(chan struct{}, 10)
	cb := func(uint64, error) { done <- struct{}{} }
	if err := o.AppendAsync(rec(ClassTelemetry, "v", 0), cb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "committer to take the first", func() bool { return o.Stats().Pending == 0 })
	for i := range 3 {
		if err := o.AppendAsync(rec(ClassTelemetry, "v", i+1), cb); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.AppendAsync(rec(ClassTelemetry, "v", 9), cb); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("AppendAsync over MaxPending = %v", err)
	}
	release()
	for range 4 {
		<-done
	}
	if s := o.Stats(); s.Appended != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWaitWakesOnAppend(t *testing.T) {
	o, _ := openTest(t, Options{})
	mustAppend(t, o, rec(ClassEvent, "v", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Wait(ctx, 0); err != nil {
		t.Fatalf("Wait(0) with seq 1 stored = %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- o.Wait(ctx, 1) }()
	select {
	case err := <-got:
		t.Fatalf("Wait(1) returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	mustAppend(t, o, rec(ClassEvent, "v", 1))
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if err := o.Wait(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with nothing new = %v", err)
	}
}

func TestStatsOldestAge(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	o, path := openTest(t, Options{Now: clock})
	if s := o.Stats(); s.OldestAge != 0 || !s.OldestAppended.IsZero() {
		t.Fatalf("empty stats %+v", s)
	}
	mustAppend(t, o, rec(ClassTelemetry, "v", 0))
	advance(10 * time.Second)
	mustAppend(t, o, rec(ClassEvent, "v", 1))
	advance(5 * time.Second)
	if s := o.Stats(); s.OldestAge != 15*time.Second || s.OldestSeq != 1 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := o.Delete(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.OldestAge != 5*time.Second || s.OldestSeq != 2 {
		t.Fatalf("stats after delete %+v", s)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	// Depth and age are rebuilt from the file on open.
	o2, err := Open(path, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if s := o2.Stats(); s.Records != 1 || s.Events != 1 || s.OldestAge != 5*time.Second || s.LastSeq != 2 {
		t.Fatalf("stats after reopen %+v", s)
	}
}

func TestReadReportsCorruptRecord(t *testing.T) {
	o, db := openSharedTest(t, Options{})
	for i := range 3 {
		mustAppend(t, o, rec(ClassEvent, "v", i))
	}
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEvents).Put([]byte{0, 0, 0, 0, 0, 0, 0, 2}, []byte("garbage value"))
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := o.Read(0, 10)
	var ce *CorruptRecordError
	if !errors.As(err, &ce) || ce.Seq != 2 || len(rs) != 1 || rs[0].Seq != 1 {
		t.Fatalf("Read = %v, %v", rs, err)
	}
	if _, err := o.Delete(context.Background(), ce.Seq); err != nil {
		t.Fatal(err)
	}
	if rs, err := o.Read(0, 10); err != nil || len(rs) != 2 {
		t.Fatalf("Read after skipping corrupt = %v, %v", rs, err)
	}
}

func TestBatchLimits(t *testing.T) {
	one := len(encode(nil, ptr(rec(ClassTelemetry, "v", 10)), time.Now()))
	tests := []struct {
		name    string
		opts    Options
		wantMax int
	}{
		{"MaxBatch", Options{MaxBatch: 3}, 3},
		{"MaxBatchBytes", Options{MaxBatchBytes: 2*one + 1}, 2},
		{"MaxBatchBytes below one record", Options{MaxBatchBytes: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var sizes []int
			tt.opts.OnCommit = func(ci CommitInfo) {
				mu.Lock()
				sizes = append(sizes, ci.Requests)
				mu.Unlock()
			}
			o, db := openSharedTest(t, tt.opts)
			release := blockWriter(t, db)
			var wg sync.WaitGroup
			wg.Add(10)
			for i := range 10 {
				if err := o.AppendAsync(rec(ClassTelemetry, "v", 10+i), func(uint64, error) { wg.Done() }); err != nil {
					t.Fatal(err)
				}
			}
			release()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			total, biggest := 0, 0
			for _, n := range sizes {
				total += n
				biggest = max(biggest, n)
			}
			if total != 10 || biggest != tt.wantMax {
				t.Fatalf("batch sizes %v, want 10 in batches of at most (and once exactly) %d", sizes, tt.wantMax)
			}
		})
	}
}

// TestUplinkReadsEverythingOnceInOrder runs appenders and an uplink-like
// reader (Wait, Read, DeleteThrough) concurrently: the reader sees every
// acknowledged seq exactly once, in increasing order, with its payload.
func TestUplinkReadsEverythingOnceInOrder(t *testing.T) {
	o, _ := openTest(t, Options{})
	const writers, each = 20, 40
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var ackMu sync.Mutex
	acked := map[uint64]string{}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				r := rec(ClassEvent, fmt.Sprintf("v%d", g), i)
				if i%2 == 0 {
					r.Class = ClassTelemetry
				}
				seq, err := o.Append(ctx, r)
				if err != nil {
					t.Error(err)
					return
				}
				ackMu.Lock()
				acked[seq] = string(r.Payload)
				ackMu.Unlock()
			}
		})
	}
	read := map[uint64]string{}
	readerDone := make(chan error, 1)
	go func() {
		var after uint64
		for len(read) < writers*each {
			if err := o.Wait(ctx, after); err != nil {
				readerDone <- err
				return
			}
			rs, err := o.Read(after, 16)
			if err != nil {
				readerDone <- err
				return
			}
			for _, r := range rs {
				if r.Seq <= after {
					readerDone <- fmt.Errorf("seq %d after %d: out of order", r.Seq, after)
					return
				}
				after = r.Seq
				read[r.Seq] = string(r.Payload)
			}
			if len(rs) > 0 {
				if _, err := o.DeleteThrough(ctx, after); err != nil {
					readerDone <- err
					return
				}
			}
		}
		readerDone <- nil
	}()
	wg.Wait()
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	if len(read) != len(acked) {
		t.Fatalf("read %d records, acknowledged %d", len(read), len(acked))
	}
	for seq, p := range acked {
		if read[seq] != p {
			t.Fatalf("seq %d: read %q, appended %q", seq, read[seq], p)
		}
	}
	if s := o.Stats(); s.Records != 0 || s.Deleted != writers*each {
		t.Fatalf("stats %+v", s)
	}
}
