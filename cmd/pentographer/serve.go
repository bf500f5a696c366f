package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/server"
)

// cmdServe runs the server. The order is what makes the first start safe:
//
//  1. bind the listeners: a busy port fails here, before the store is opened;
//  2. open and migrate the store, make sure a signing key exists;
//  3. start serving and wait until the HTTP server is accepting connections;
//  4. only then create the first organization and owner (one transaction) and
//     print their secrets, right after the commit.
//
// So secrets are never created by a server that could not start, never printed
// before the server answers, and the printed key works at once. What remains is
// a crash in the instant between the commit and the print: the organization
// then exists without anyone holding its key, and "pentographer keys create"
// issues a new one.
//
// With a metrics address, a second listener serves /metrics; it starts and
// stops with the server.
func cmdServe(inv *invocation) func(context.Context, Config) error {
	return func(ctx context.Context, cfg Config) error {
		log, logw := cfg.logging(inv.stderr)
		if logw != nil {
			defer logw.Close()
		}
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return listenError(cfg.Listen, "--listen or PTG_LISTEN", err)
		}
		defer ln.Close()
		var metrics *server.Metrics
		var metricsLn net.Listener
		if cfg.MetricsListen != "" {
			metricsLn, err = net.Listen("tcp", cfg.MetricsListen)
			if err != nil {
				return listenError(cfg.MetricsListen, "--metrics-listen or PTG_METRICS_LISTEN", err)
			}
			defer metricsLn.Close()
			metrics = server.NewMetrics()
		}
		derived := cfg.PublicURL == ""
		if derived {
			// The bound address: ":0" has become a real port.
			cfg.Listen = ln.Addr().String()
		}
		var observer auth.Observer
		if metrics != nil {
			observer = metrics
		}
		st, svc, err := openServices(ctx, cfg, log, observer)
		if err != nil {
			return err
		}
		defer st.Close()
		metrics.WatchDatabase(st.Stats)
		if err := svc.EnsureSigningKey(ctx); err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
		scfg := cfg.ServerConfig()
		scfg.Metrics, scfg.AccessLog = metrics, logw
		srv := server.New(scfg, log, svc, st.Ping)
		if derived {
			log.Info("no public URL configured: using one built from the listen address; set PTG_PUBLIC_URL (or --public-url) to the address your users reach",
				"public_url", cfg.PublicBase())
		}
		log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicBase(), "store", string(st.Dialect()))

		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// Revocations made through other replicas or the command line reach
		// this one at once (PostgreSQL; SQLite has one process); uses of
		// credentials are written in the background. Both end before the store
		// closes.
		var background sync.WaitGroup
		background.Go(func() { svc.WatchChanges(ctx, nil) })
		background.Go(func() { svc.RecordUses(ctx) })
		defer func() { cancel(); background.Wait() }()
		up := &acceptingListener{Listener: ln, accepting: make(chan struct{})}
		// Either server failing stops the other.
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return srv.Serve(gctx, up, cfg.ShutdownGrace) })
		if metricsLn != nil {
			log.Info("serving metrics", "addr", metricsLn.Addr().String(), "path", "/metrics")
			g.Go(func() error { return server.ServeMetrics(gctx, metricsLn, metrics, log) })
		}
		served := make(chan error, 1)
		go func() { served <- g.Wait() }()
		select {
		case <-up.accepting:
		case err := <-served:
			return err
		}
		if ctx.Err() == nil {
			if err := firstStart(auth.WithChannel(ctx, auth.ChannelCLI), inv, cfg, svc); err != nil {
				log.Error("first start failed; stopping", "error", err)
				cancel()
				return errors.Join(err, <-served)
			}
		}
		return <-served
	}
}

// acceptingListener signals when the HTTP server first waits for a connection,
// that is, once its serving loop runs.
type acceptingListener struct {
	net.Listener
	once      sync.Once
	accepting chan struct{}
}

func (l *acceptingListener) Accept() (net.Conn, error) {
	l.once.Do(func() { close(l.accepting) })
	return l.Listener.Accept()
}

// listenError says why the server cannot listen on addr, set by setting, and
// what to do about it.
func listenError(addr, setting string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: the address is already in use (is another server running?); "+
			"choose another with %s. Nothing was created", addr, setting)
	}
	return fmt.Errorf("cannot listen on %s: %w; choose another address with %s. Nothing was created", addr, err, setting)
}

// firstStart creates the first organization and owner when the store is empty,
// then prints their secrets at once. It never logs them.
func firstStart(ctx context.Context, inv *invocation, cfg Config, svc *auth.Service) error {
	first, err := svc.BootstrapIfEmpty(ctx, cfg.BootstrapOrg, cfg.BootstrapEmail)
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	if first == nil {
		return nil
	}
	if err := printFirstStart(inv.stdout, cfg, *first); err != nil {
		// The server keeps running; the secrets are gone but a key can be reissued.
		fmt.Fprintf(inv.stderr, "pentographer serve: the first owner was created but their secrets could not be printed (%v); "+
			"issue a new key with: pentographer keys create --org %s --email %s\n", err, first.Organization.Slug, first.User.Email)
	}
	return nil
}

// printFirstStart shows the first owner's credentials once, on stdout and never
// in the logs, in one write.
func printFirstStart(w io.Writer, cfg Config, e auth.Enrollment) error {
	_, err := fmt.Fprintf(w, `
First start: created organization %q (slug %s) and its owner.
These secrets are shown only now. Store them somewhere safe.

  email:     %s
  password:  %s
  API key:   %s

Sign in at %s/login with the email and password (Workspace Settings: %s/settings).

Try the key:
  curl -s %s/graphql -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' -d '{"query":"{ viewer { role user { email } } }"}'

Lost the key? Issue another: pentographer keys create --org %s --email %s
Lost the password? Make a reset link: pentographer users reset-password --email %s

`, e.Organization.Name, e.Organization.Slug, e.User.Email, e.Password, e.APIKey,
		cfg.PublicBase(), cfg.PublicBase(), cfg.PublicBase(), e.APIKey,
		e.Organization.Slug, e.User.Email, e.User.Email)
	return err
}
