// Command ptg-load drives a running Pentographer server with an open-loop mixed
// workload and reports latency, errors, lost writes, stale accepts and the
// server's memory. See docs/load-testing.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pentographer/pentographer/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal ends the timed run (the cleanup and the report still
	// happen); from then on a second one stops the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `ptg-load — open-loop load harness for a Pentographer server.

Usage:
  PTG_LOAD_KEY=ptg_… ptg-load --url http://127.0.0.1:8080 [flags]

Exit status: 0 when the run kept every invariant (and the optional thresholds),
1 when it broke one or could not start, 2 on a usage error.

Flags:
`

// run parses the flags, runs the harness and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("ptg-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var cfg loadtest.Config
	mix := loadtest.DefaultMix().String()
	var maxWorkers uint64
	fs.StringVar(&cfg.URL, "url", "http://localhost:8080", "base URL of the server under test")
	// The variable is read after parsing, never as the flag's default: the usage
	// text prints defaults.
	fs.StringVar(&cfg.Key, "key", "", "a ptg_ API key of an OWNER (default: $PTG_LOAD_KEY; prefer the variable, flags show in ps)")
	fs.Float64Var(&cfg.Rate, "rate", loadtest.DefaultRate, "paced requests per second (open loop: sent on schedule whatever the latency)")
	fs.DurationVar(&cfg.Duration, "duration", loadtest.DefaultDuration, "length of the timed run")
	fs.StringVar(&mix, "mix", mix, "relative weights of the paced operations, op=weight,…")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "pid of the server process on this machine, to sample its RSS from /proc (0: off)")
	out := fs.String("out", "ptg-load-report", "directory for report.json and report.html (empty: write neither)")
	fs.DurationVar(&cfg.Timeout, "timeout", loadtest.DefaultTimeout, "per-request timeout")
	fs.Uint64Var(&maxWorkers, "max-workers", loadtest.DefaultMaxWorkers, "most paced requests in flight at once")
	fs.IntVar(&cfg.ReadKeys, "read-keys", loadtest.DefaultReadKeys, "API keys the setup creates for key_read")
	fs.IntVar(&cfg.TokenPool, "tokens", loadtest.DefaultTokenPool, "most recent access tokens token_read cycles through")
	fs.DurationVar(&cfg.ProbeDelay, "probe-delay", loadtest.DefaultProbeDelay, "delay of the second probe of a created or revoked key")
	fs.DurationVar(&cfg.ClientEvery, "client-every", loadtest.DefaultClientEvery, "period of the OAuth client create/revoke/probe cycle (0: off)")
	fs.DurationVar(&cfg.Thresholds.MaxP99, "max-p99", 0, "fail the run when a paced operation's p99 exceeds this (0: off)")
	fs.Float64Var(&cfg.Thresholds.MaxRSSMB, "max-rss-mb", 0, "fail the run when the server's peak RSS exceeds this many MB (0: off; needs --server-pid)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptg-load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.Key == "" {
		cfg.Key = getenv("PTG_LOAD_KEY")
	}
	m, err := loadtest.ParseMix(mix)
	if err != nil {
		fmt.Fprintf(stderr, "ptg-load: --%v\n", err)
		return 2
	}
	cfg.Mix, cfg.MaxWorkers, cfg.Log = m, maxWorkers, stderr
	if maxWorkers == 0 {
		fmt.Fprintln(stderr, "ptg-load: --max-workers must be at least 1")
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "ptg-load: %v\n", err)
		return 2
	}

	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ptg-load: %v\n", err)
		return 1
	}
	rep.WriteSummary(stdout)
	if *out != "" {
		if err := rep.WriteFiles(*out); err != nil {
			fmt.Fprintf(stderr, "ptg-load: write report: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "report: %s, %s\n", filepath.Join(*out, "report.json"), filepath.Join(*out, "report.html"))
	}
	if !rep.Passed {
		return 1
	}
	return 0
}
