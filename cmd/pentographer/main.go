// Command pentographer runs the credentials server and its operator commands.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/mcp"
	"github.com/pentographer/pentographer/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// openServices opens and migrates the store and builds the auth service, which
// reports to observer (nil: nobody).
func openServices(ctx context.Context, cfg Config, log *slog.Logger, observer auth.Observer) (*store.Store, *auth.Service, error) {
	catalog, err := auth.NewCatalog(cfg.Scopes())
	if err != nil {
		return nil, nil, fmt.Errorf("--extra-scopes / PTG_SCOPES: %w", err)
	}
	secrets, err := cfg.SecretKeys(log)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	opts := cfg.AuthOptions(catalog, secrets, log)
	opts.Observer = observer
	return st, auth.NewService(st, opts), nil
}

// operator runs fn with the service over the configured store, audited as a
// command-line action.
func operator(ctx context.Context, inv *invocation, cfg Config, fn func(ctx context.Context, st *store.Store, svc *auth.Service) error) error {
	st, svc, err := openServices(ctx, cfg, cfg.logger(inv.stderr), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(auth.WithChannel(ctx, auth.ChannelCLI), st, svc)
}

func cmdMigrate(inv *invocation) func(context.Context, Config) error {
	return func(ctx context.Context, cfg Config) error {
		return operator(ctx, inv, cfg, func(_ context.Context, st *store.Store, _ *auth.Service) error {
			fmt.Fprintf(inv.stdout, "migrated %s store\n", st.Dialect())
			return nil
		})
	}
}

func cmdRotate(inv *invocation) func(context.Context, Config) error {
	return func(ctx context.Context, cfg Config) error {
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			kid, err := svc.RotateSigningKey(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(inv.stdout, "new signing key %s (%s) now signs access tokens; running servers pick it up within seconds\n", kid, cfg.SigningAlg)
			return nil
		})
	}
}

func cmdResetPassword(inv *invocation) func(context.Context, Config) error {
	email := inv.stringFlag("email", "EMAIL", "", "the person's email address", true)
	return func(ctx context.Context, cfg Config) error {
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			link, err := svc.IssuePasswordReset(ctx, *email)
			if err != nil {
				return err
			}
			fmt.Fprintf(inv.stdout, "Password reset link for %s (valid 24 hours, works once; shown only now):\n\n  %s\n", *email, link)
			return nil
		})
	}
}

func cmdRevokeSigningKey(inv *invocation) func(context.Context, Config) error {
	return func(ctx context.Context, cfg Config) error {
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			kid := inv.positional[0]
			newKID, err := svc.RevokeSigningKey(ctx, kid)
			if err != nil {
				return err
			}
			fmt.Fprintf(inv.stdout, "signing key %s is revoked: its tokens are refused and it has left the JWKS\n", kid)
			if newKID != "" {
				fmt.Fprintf(inv.stdout, "it was the active key: new signing key %s (%s) now signs access tokens\n", newKID, cfg.SigningAlg)
			}
			return nil
		})
	}
}

func cmdBootstrap(inv *invocation) func(context.Context, Config) error {
	org := inv.stringFlag("org", "NAME", "", "the new organization's name", true)
	email := inv.stringFlag("email", "EMAIL", "", "the owner's email address", true)
	asJSON := inv.boolFlag("json", "print one JSON object (for scripts)")
	return func(ctx context.Context, cfg Config) error {
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			e, err := svc.Bootstrap(ctx, *org, *email)
			if err != nil {
				return err
			}
			return printEnrollment(inv.stdout, e, *asJSON, true)
		})
	}
}

func cmdMembersAdd(inv *invocation) func(context.Context, Config) error {
	org := inv.stringFlag("org", "SLUG", "", "the organization's slug", true)
	email := inv.stringFlag("email", "EMAIL", "", "the person's email address", true)
	roleName := inv.stringFlag("role", "ROLE", "", "OWNER, ADMIN or MEMBER (any case)", true)
	asJSON := inv.boolFlag("json", "print one JSON object (for scripts)")
	return func(ctx context.Context, cfg Config) error {
		role, err := auth.ParseRole(*roleName)
		if err != nil {
			return usageError(inv, "--role: %v", err)
		}
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			e, err := svc.AddMember(ctx, *org, *email, role)
			if err != nil {
				return err
			}
			return printEnrollment(inv.stdout, e, *asJSON, true)
		})
	}
}

func cmdKeysCreate(inv *invocation) func(context.Context, Config) error {
	org := inv.stringFlag("org", "SLUG", "", "the organization's slug", true)
	email := inv.stringFlag("email", "EMAIL", "", "the member's email address", true)
	name := inv.stringFlag("name", "NAME", "Issued by pentographer keys create", "a name for the key", false)
	scopes := inv.stringFlag("scopes", "SCOPES", "", "the key's scopes, space- or comma-separated; \"none\" for an identity-only key (unset: every scope of the member's role)", false)
	expires := inv.stringFlag("expires", "WHEN", "", "expiry: a date (2027-01-31), an RFC 3339 time, or a duration from now (90d, 720h); unset: never", false)
	asJSON := inv.boolFlag("json", "print one JSON object (for scripts)")
	return func(ctx context.Context, cfg Config) error {
		in := auth.CreateAPIKeyInput{Name: *name}
		switch *scopes {
		case "": // every scope of the member's role
		case "none":
			in.Scopes = []string{}
		default:
			in.Scopes = splitList(*scopes)
		}
		if *expires != "" {
			at, err := parseExpiry(*expires, time.Now())
			if err != nil {
				return usageError(inv, "--expires: %v", err)
			}
			in.ExpiresAt = &at
		}
		return operator(ctx, inv, cfg, func(ctx context.Context, _ *store.Store, svc *auth.Service) error {
			e, err := svc.IssueAPIKey(ctx, *org, *email, in)
			if err != nil {
				return err
			}
			return printEnrollment(inv.stdout, e, *asJSON, false)
		})
	}
}

func cmdMCPConfig(inv *invocation) func(context.Context, Config) error {
	editor := inv.stringFlag("editor", "EDITOR", "", strings.Join(mcp.Editors(), ", "), true)
	serverURL := inv.stringFlag("url", "URL", "", "the server's public URL (unset: $PTG_PUBLIC_URL, else http://localhost plus the port of $PTG_LISTEN)", false)
	key := inv.stringFlag("key", "KEY", "", "a ptg_ API key to fill in (unset: the placeholder "+mcp.KeyPlaceholder+")", false)
	return func(context.Context, Config) error {
		u := *serverURL
		if u == "" {
			u = inv.getenv("PTG_PUBLIC_URL")
		}
		if u == "" {
			listen := inv.getenv("PTG_LISTEN")
			if listen == "" {
				listen = ":8080"
			}
			u = publicURLFor(listen)
		}
		snippet, err := mcp.EditorConfig(*editor, u, *key)
		if err != nil {
			return usageError(inv, "%v", err)
		}
		fmt.Fprint(inv.stdout, snippet)
		return nil
	}
}

func cmdVersion(inv *invocation) func(context.Context, Config) error {
	return func(context.Context, Config) error {
		fmt.Fprintln(inv.stdout, "pentographer", version())
		return nil
	}
}

// usageError reports a bad flag value like any other usage mistake (exit code 2).
func usageError(inv *invocation, format string, args ...any) error {
	fmt.Fprintf(inv.stderr, "pentographer %s: %s\nRun \"pentographer %s --help\" for usage.\n",
		inv.cmd.name, fmt.Sprintf(format, args...), inv.cmd.name)
	return errUsage
}

// parseExpiry reads --expires: a date (midnight UTC), an RFC 3339 time, or a
// duration from now in hours and smaller units or in days ("90d").
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2027-01-31), an RFC 3339 time or a positive duration (90d, 720h)", s)
}

// version describes this build: the module version, the commit when known, and
// the Go release it was built with.
func version() string {
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && len(s.Value) >= 12:
				rev = s.Value[:12]
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = ", modified"
			}
		}
		if rev != "" {
			v += " (commit " + rev + dirty + ")"
		}
	}
	return v + " " + runtime.Version()
}

// printEnrollment prints what an operator command made: as text, or as the one
// JSON object of SPEC §11 (organization, user, role, password, api_key; password
// only where a person can be created, and null for one who existed already).
func printEnrollment(w io.Writer, e auth.Enrollment, asJSON, withPassword bool) error {
	if asJSON {
		out := map[string]any{
			"organization": map[string]string{"id": e.Organization.ID, "slug": e.Organization.Slug, "name": e.Organization.Name},
			"user":         map[string]string{"id": e.User.ID, "email": e.User.Email},
			"role":         e.Role.String(),
			"api_key":      e.APIKey,
		}
		if withPassword {
			var password any
			if e.Password != "" {
				password = e.Password
			}
			out["password"] = password
		}
		return json.NewEncoder(w).Encode(out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "organization: %s (slug %s, id %s)\nuser:         %s (id %s)\nrole:         %s\n",
		e.Organization.Name, e.Organization.Slug, e.Organization.ID, e.User.Email, e.User.ID, e.Role)
	shown := "The API key is shown only now."
	if withPassword {
		if e.Password != "" {
			fmt.Fprintf(&b, "password:     %s\n", e.Password)
			shown = "The password and API key are shown only now."
		} else {
			b.WriteString("password:     (existing user: unchanged)\n")
		}
	}
	fmt.Fprintf(&b, "api key:      %s\n\n%s\n", e.APIKey, shown)
	_, err := io.WriteString(w, b.String())
	return err
}
