package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrProc marks an unreadable /proc entry.
var ErrProc = errors.New("loadgen: /proc")

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 100

// ProcStat is a process's CPU time and resident memory.
type ProcStat struct {
	CPU      time.Duration // user + system
	RSSBytes uint64
	Threads  int
	FDs      int
}

// ReadProc reads /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (ProcStat, error) {
	var st ProcStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrProc, err)
	}
	// Fields after the command name (which may contain spaces) in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, fmt.Errorf("%w: pid %d: malformed stat", ErrProc, pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return st, fmt.Errorf("%w: pid %d: short stat", ErrProc, pid)
	}
	// f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	sy, _ := strconv.ParseUint(f[12], 10, 64)
	st.CPU = time.Duration(ut+sy) * time.Second / clockTick
	st.Threads, _ = strconv.Atoi(f[17])
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrProc, err)
	}
	for _, line := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			st.RSSBytes = kb << 10
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		st.FDs = len(ents)
	}
	return st, nil
}

// LoadAvg returns the first three fields of /proc/loadavg ("1.23 0.98 0.70").
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
