// Command pentographer runs the credentials server and its operator commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/server"
	"github.com/pentographer/pentographer/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `pentographer — scoped API keys and OAuth clients for Pentographer.

Usage:
  pentographer [serve] [flags]              run the server (the default command)
  pentographer migrate [flags]              create or update the database schema
  pentographer bootstrap --org NAME --email EMAIL [--json] [flags]
                                            create an organization, its owner and an owner API key
  pentographer members add --org SLUG --email EMAIL --role owner|admin|member [--json] [flags]
                                            add a person to an organization, with an API key
  pentographer signing-keys rotate [flags]  make a new access token signing key; old ones stay
                                            published until their tokens expire
  pentographer version                      print the version

Every flag can also be set by the PTG_* variable named in its help; a flag wins.
Run "pentographer COMMAND --help" to list a command's flags.
`

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "signing-keys" {
		if len(args) == 0 || args[0] != "rotate" {
			fmt.Fprintln(stderr, `pentographer signing-keys: the only subcommand is "rotate"`)
			return 2
		}
		cmd, args = "signing-keys rotate", args[1:]
	}
	if cmd == "members" {
		if len(args) == 0 || args[0] != "add" {
			fmt.Fprintln(stderr, `pentographer members: the only subcommand is "add"`)
			return 2
		}
		cmd, args = "members add", args[1:]
	}
	// Operator commands are audited as coming from the command line.
	ctx = auth.WithChannel(ctx, auth.ChannelCLI)
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, args, stdout, stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, args, stdout, stderr, getenv)
	case "bootstrap", "members add":
		err = cmdEnroll(ctx, cmd, args, stdout, stderr, getenv)
	case "signing-keys rotate":
		err = cmdRotate(ctx, args, stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "pentographer", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "pentographer: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "pentographer %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage error")

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// newFlagSet makes a command's flag set carrying every configuration option.
func newFlagSet(name string, stderr io.Writer, getenv func(string) string) (*flag.FlagSet, func() (Config, error)) {
	fs := flag.NewFlagSet("pentographer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	build := configFlags(fs, getenv)
	return fs, build
}

// parse parses args and builds the config; usage errors are reported once.
func parse(fs *flag.FlagSet, build func() (Config, error), args []string) (Config, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return Config{}, errUsage
	}
	return build()
}

// openServices opens and migrates the store and builds the auth service, which
// logs through log.
func openServices(ctx context.Context, cfg Config, log *slog.Logger) (*store.Store, *auth.Service, error) {
	catalog, err := auth.NewCatalog(cfg.Scopes())
	if err != nil {
		return nil, nil, fmt.Errorf("--scopes: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return st, auth.NewService(st, auth.Options{Catalog: catalog, Tokens: cfg.Tokens(), Logger: log}), nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, build := newFlagSet("serve", stderr, getenv)
	cfg, err := parse(fs, build, args)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	st, svc, err := openServices(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	first, err := svc.BootstrapIfEmpty(ctx, cfg.BootstrapOrg, cfg.BootstrapEmail)
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	if first != nil {
		printFirstStart(stdout, cfg, *first)
	}
	if err := svc.EnsureSigningKey(ctx); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := server.New(server.Config{
		PublicURL: cfg.PublicBase(), MaxBodyBytes: cfg.MaxBodyBytes, RequestTimeout: cfg.RequestTimeout,
		ClientFailureLimit: cfg.ClientFailures, AddressFailureLimit: cfg.AddrFailures, FailureWindow: time.Minute,
	}, log, svc, st.Ping)
	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicBase(), "store", string(st.Dialect()))
	return srv.Serve(ctx, ln, cfg.ShutdownGrace)
}

// printFirstStart shows the first owner's credentials once, on stdout and never in
// the logs.
func printFirstStart(w io.Writer, cfg Config, e auth.Enrollment) {
	fmt.Fprintf(w, `
First start: created organization %q (slug %s) and its owner.
These secrets are shown only now. Store them somewhere safe.

  email:     %s
  password:  %s
  API key:   %s

Try it:
  curl -s %s/graphql -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' -d '{"query":"{ viewer { role user { email } } }"}'

`, e.Organization.Name, e.Organization.Slug, e.User.Email, e.Password, e.APIKey, cfg.PublicBase(), e.APIKey)
}

func cmdRotate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, build := newFlagSet("signing-keys rotate", stderr, getenv)
	cfg, err := parse(fs, build, args)
	if err != nil {
		return err
	}
	st, svc, err := openServices(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	kid, err := svc.RotateSigningKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s (%s) now signs access tokens; running servers pick it up within seconds\n", kid, cfg.SigningAlg)
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, build := newFlagSet("migrate", stderr, getenv)
	cfg, err := parse(fs, build, args)
	if err != nil {
		return err
	}
	st, _, err := openServices(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "migrated %s store\n", st.Dialect())
	return nil
}

// cmdEnroll runs "bootstrap" and "members add".
func cmdEnroll(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, build := newFlagSet(cmd, stderr, getenv)
	org := fs.String("org", "", "organization: a name for bootstrap, a slug for members add")
	email := fs.String("email", "", "the person's email address")
	roleName := fs.String("role", "", "members add: owner, admin or member")
	asJSON := fs.Bool("json", false, "print one JSON object (for scripts)")
	cfg, err := parse(fs, build, args)
	if err != nil {
		return err
	}
	if *org == "" || *email == "" || (cmd == "members add" && *roleName == "") {
		fmt.Fprintf(stderr, "pentographer %s needs --org and --email%s\n", cmd, map[bool]string{true: " and --role"}[cmd == "members add"])
		return errUsage
	}
	st, svc, err := openServices(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	var e auth.Enrollment
	if cmd == "bootstrap" {
		e, err = svc.Bootstrap(ctx, *org, *email)
	} else {
		role, perr := auth.ParseRole(*roleName)
		if perr != nil {
			return perr
		}
		e, err = svc.AddMember(ctx, *org, *email, role)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(enrollmentJSON(e))
	}
	fmt.Fprintf(stdout, "organization: %s (slug %s, id %s)\nuser:         %s (id %s)\nrole:         %s\n",
		e.Organization.Name, e.Organization.Slug, e.Organization.ID, e.User.Email, e.User.ID, e.Role)
	if e.Password != "" {
		fmt.Fprintf(stdout, "password:     %s\n", e.Password)
	} else {
		fmt.Fprintf(stdout, "password:     (existing user: unchanged)\n")
	}
	fmt.Fprintf(stdout, "api key:      %s\n\nThe password and API key are shown only now.\n", e.APIKey)
	return nil
}

// enrollmentJSON is the --json shape of SPEC §11. password is null for a user who
// existed already.
func enrollmentJSON(e auth.Enrollment) map[string]any {
	var password any
	if e.Password != "" {
		password = e.Password
	}
	return map[string]any{
		"organization": map[string]string{"id": e.Organization.ID, "slug": e.Organization.Slug, "name": e.Organization.Name},
		"user":         map[string]string{"id": e.User.ID, "email": e.User.Email},
		"role":         strings.ToLower(e.Role.String()),
		"password":     password,
		"api_key":      e.APIKey,
	}
}
