package outbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes this test binary as a child that appends from
// many goroutines and prints every acknowledged seq, SIGKILLs it mid-stream,
// and checks the file. These variables are the child's inputs.
const (
	envCrashDB    = "OUTBOX_CRASH_CHILD_DB"
	envCrashRound = "OUTBOX_CRASH_CHILD_ROUND"
	crashWriters  = 32
)

func crashPayload(round, g, i int) []byte {
	head := fmt.Sprintf("r%d g%d i%d|", round, g, i)
	body := bytes.Repeat([]byte{byte(round*31 + g*7 + i)}, (i*13+g)%200)
	return append([]byte(head), body...)
}

// TestCrashChild is the child process body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashDB)
	if path == "" {
		t.Skip("only runs as the child of TestKill9")
	}
	round, err := strconv.Atoi(os.Getenv(envCrashRound))
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		// One write per line, unbuffered: a line the parent reads was
		// printed after the operation returned.
		if _, err := fmt.Fprintf(os.Stdout, format+"\n", args...); err != nil {
			os.Exit(3)
		}
	}
	say("start %d", o.LastSeq())
	ctx := context.Background()
	stop := time.Now().Add(20 * time.Second) // the parent kills us long before
	var acked sync.Map
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				class := ClassTelemetry
				if (g+i)%3 == 0 {
					class = ClassEvent
				}
				seq, err := o.Append(ctx, Record{
					Class:   class,
					Time:    time.Unix(int64(round), int64(i)),
					Vehicle: fmt.Sprintf("r%dg%d", round, g),
					Kind:    strconv.Itoa(i),
					Payload: crashPayload(round, g, i),
				})
				if err != nil {
					say("error %v", err)
					return
				}
				acked.Store(g, seq)
				say("ack %d %d %d", seq, g, i)
			}
		})
	}
	// The uplink's part: delete through an acknowledged seq now and then.
	wg.Go(func() {
		for time.Now().Before(stop) {
			time.Sleep(3 * time.Millisecond)
			var through uint64 = ^uint64(0)
			acked.Range(func(_, v any) bool { through = min(through, v.(uint64)); return true })
			if through == ^uint64(0) || through < 50 {
				continue
			}
			through -= 50
			say("deleting %d", through)
			if _, err := o.DeleteThrough(ctx, through); err != nil {
				say("error %v", err)
				return
			}
			say("deleted %d", through)
		}
	})
	wg.Wait()
	say("timeout")
}

type crashAck struct{ round, g, i int }

// TestKill9 proves every acknowledged append survives SIGKILL at an arbitrary
// moment, exactly once and intact, and that seqs continue above every seq
// ever assigned.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[uint64]crashAck{} // every seq acknowledged in any round
	var maxAcked, mayBeDeleted, deleted uint64
	for round := range 4 {
		kills := 200 + rand.IntN(1500)
		lines := runAndKill(t, path, round, kills)
		nAcks := 0
		for _, ln := range lines {
			f := strings.Fields(ln)
			switch {
			case len(f) == 4 && f[0] == "ack":
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				g, _ := strconv.Atoi(f[2])
				i, _ := strconv.Atoi(f[3])
				if prev, dup := acked[seq]; dup {
					t.Fatalf("round %d: seq %d acknowledged twice (%v and %v)", round, seq, prev, crashAck{round, g, i})
				}
				acked[seq] = crashAck{round, g, i}
				maxAcked = max(maxAcked, seq)
				nAcks++
			case len(f) == 2 && f[0] == "start":
				start, _ := strconv.ParseUint(f[1], 10, 64)
				if start < maxAcked {
					t.Fatalf("round %d: child started with LastSeq %d below acknowledged %d", round, start, maxAcked)
				}
			case len(f) == 2 && f[0] == "deleting":
				v, _ := strconv.ParseUint(f[1], 10, 64)
				mayBeDeleted = max(mayBeDeleted, v)
			case len(f) == 2 && f[0] == "deleted":
				v, _ := strconv.ParseUint(f[1], 10, 64)
				deleted = max(deleted, v)
			case len(f) > 0 && (f[0] == "error" || f[0] == "timeout"):
				t.Fatalf("round %d: child: %s", round, ln)
			}
		}
		if nAcks < kills {
			t.Fatalf("round %d: only %d acks before the kill", round, nAcks)
		}
		verifyAfterCrash(t, path, acked, maxAcked, mayBeDeleted, deleted)
		t.Logf("round %d: %d acks, killed after >= %d, max acked seq %d, deleted through %d..%d",
			round, nAcks, kills, maxAcked, deleted, mayBeDeleted)
	}
}

// runAndKill starts the child, SIGKILLs it once it has printed kills acks
// (plus a random few ms), and returns every complete line it printed.
func runAndKill(t *testing.T, path string, round, kills int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashRound+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}
	defer kill()
	deadline := time.AfterFunc(30*time.Second, kill)
	defer deadline.Stop()

	var lines []string
	acks := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		ln := sc.Text()
		lines = append(lines, ln)
		if strings.HasPrefix(ln, "ack ") {
			acks++
			if acks == kills {
				time.AfterFunc(time.Duration(rand.IntN(5000))*time.Microsecond, kill)
			}
		}
	}
	// A last line cut by the kill has no newline; Scanner still returns it,
	// but the child writes each line in one write(2), so it is complete.
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	return lines
}

func verifyAfterCrash(t *testing.T, path string, acked map[uint64]crashAck, maxAcked, mayBeDeleted, deleted uint64) {
	t.Helper()
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := o.Close(); err != nil {
			t.Error(err)
		}
	}()
	all := readAll(t, o)
	stored := make(map[uint64]Record, len(all))
	seen := map[crashAck]uint64{}
	var maxStored uint64
	for _, r := range all {
		var a crashAck
		if _, err := fmt.Sscanf(r.Vehicle, "r%dg%d", &a.round, &a.g); err != nil {
			t.Fatalf("seq %d: unexpected vehicle %q", r.Seq, r.Vehicle)
		}
		a.i, _ = strconv.Atoi(r.Kind)
		if prev, dup := seen[a]; dup {
			t.Fatalf("append %v stored twice: seqs %d and %d", a, prev, r.Seq)
		}
		seen[a] = r.Seq
		if !bytes.Equal(r.Payload, crashPayload(a.round, a.g, a.i)) {
			t.Fatalf("seq %d: payload damaged", r.Seq)
		}
		if r.Seq <= deleted {
			t.Fatalf("seq %d present after DeleteThrough(%d) returned", r.Seq, deleted)
		}
		stored[r.Seq] = r
		maxStored = max(maxStored, r.Seq)
	}
	for seq, a := range acked {
		if seq <= mayBeDeleted {
			continue
		}
		r, ok := stored[seq]
		if !ok {
			t.Fatalf("acknowledged seq %d (%v) lost", seq, a)
		}
		if r.Vehicle != fmt.Sprintf("r%dg%d", a.round, a.g) || r.Kind != strconv.Itoa(a.i) {
			t.Fatalf("seq %d holds %s/%s, acknowledged as %v", seq, r.Vehicle, r.Kind, a)
		}
	}
	if s := o.Stats(); s.Records != uint64(len(all)) {
		t.Fatalf("stats depth %d, read %d", s.Records, len(all))
	}
	seq, err := o.Append(context.Background(), Record{Class: ClassEvent, Vehicle: "probe", Kind: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	if seq <= maxAcked || seq <= maxStored || seq <= mayBeDeleted {
		t.Fatalf("new seq %d not above max acknowledged %d / stored %d", seq, maxAcked, maxStored)
	}
	if _, err := o.Delete(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
}
