package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSSReport is the server's resident memory over the run, read from
// /proc/PID/status (Linux).
type RSSReport struct {
	PID int `json:"pid"`
	// StartMB is the first sample (before the setup), EndMB the last (after the
	// run and the cleanup), PeakMB the largest sample.
	StartMB float64 `json:"start_mb"`
	PeakMB  float64 `json:"peak_mb"`
	EndMB   float64 `json:"end_mb"`
	// HighWaterMB is the kernel's VmHWM at the end: the peak over the server
	// process's whole life, including before the run.
	HighWaterMB float64     `json:"high_water_mb"`
	Samples     []RSSSample `json:"samples"`
}

// RSSSample is the RSS at a time since the timed run began (negative during
// the setup).
type RSSSample struct {
	At float64 `json:"t"`
	MB float64 `json:"mb"`
}

// memStatus holds VmRSS and VmHWM in kB.
type memStatus struct{ rssKB, hwmKB int64 }

// parseStatus reads VmRSS and VmHWM from the text of /proc/PID/status.
func parseStatus(text string) (memStatus, error) {
	var m memStatus
	var haveRSS bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return memStatus{}, fmt.Errorf("unexpected %s line %q", name, sc.Text())
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || v < 0 {
			return memStatus{}, fmt.Errorf("unexpected %s value %q", name, fields[0])
		}
		if name == "VmRSS" {
			m.rssKB, haveRSS = v, true
		} else {
			m.hwmKB = v
		}
	}
	if !haveRSS {
		return memStatus{}, fmt.Errorf("no VmRSS line (is it a kernel thread, or not Linux?)")
	}
	return m, nil
}

func readStatus(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, fmt.Errorf("server RSS: %w", err)
	}
	m, err := parseStatus(string(b))
	if err != nil {
		return memStatus{}, fmt.Errorf("server RSS of pid %d: %w", pid, err)
	}
	return m, nil
}

// rssSampler samples a process's RSS at a fixed interval.
type rssSampler struct {
	pid   int
	mu    sync.Mutex
	last  memStatus
	taken []timedRSS
	err   error
}

type timedRSS struct {
	at time.Time
	kb int64
}

func (s *rssSampler) sample() {
	m, err := readStatus(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.last = m
	s.taken = append(s.taken, timedRSS{at: time.Now(), kb: m.rssKB})
}

// run samples every interval until ctx ends.
func (s *rssSampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

// report summarizes the samples with times relative to zero (the start of the
// timed run); the error is the first failed read (e.g. the server exited).
func (s *rssSampler) report(zero time.Time) (*RSSReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.taken) == 0 {
		return nil, s.err
	}
	r := &RSSReport{PID: s.pid, HighWaterMB: kbToMB(s.last.hwmKB)}
	for _, x := range s.taken {
		mb := kbToMB(x.kb)
		r.Samples = append(r.Samples, RSSSample{At: round3(x.at.Sub(zero).Seconds()), MB: mb})
		r.PeakMB = max(r.PeakMB, mb)
	}
	r.StartMB, r.EndMB = r.Samples[0].MB, r.Samples[len(r.Samples)-1].MB
	return r, s.err
}

// kbToMB converts kB to MiB, which is what "MB" means in the report.
func kbToMB(kb int64) float64 { return round3(float64(kb) / 1024) }
