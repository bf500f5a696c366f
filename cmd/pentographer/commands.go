package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one entry of the command line: adding a command is adding one.
type command struct {
	// name is what the user types, one or two words ("keys create").
	name string
	// synopsis is what follows the name in the usage line.
	synopsis string
	// summary is the one line the top-level help shows.
	summary string
	// about is the paragraph the command's own help shows.
	about string
	// groups are the settings it takes.
	groups []group
	// args names its positional arguments (e.g. KID), all required.
	args []string
	// setup declares the command's own flags on inv and returns the work to do
	// once they and the settings are parsed.
	setup func(inv *invocation) func(ctx context.Context, cfg Config) error
}

// storeGroups are the settings of every command that works on the store.
var storeGroups = []group{groupStore, groupLog}

// commands lists every command in the order the top-level help shows them.
var commands = []command{
	{
		name: "serve", synopsis: "[flags]", summary: "run the server (the default command)",
		about: "Run the HTTP server: the GraphQL API, the OAuth endpoints and the web pages.\n" +
			"Migrations run first. On the first start against an empty store it creates an\n" +
			"organization and its owner, and once the server is listening prints, once, the\n" +
			"owner's password and an owner API key.",
		groups: []group{groupStore, groupAddress, groupHTTP, groupSigning, groupSecret, groupScopes, groupFirstStart, groupLog},
		setup:  cmdServe,
	},
	{
		name: "migrate", synopsis: "[flags]", summary: "create or update the database schema",
		about:  "Create or update the database schema. It is idempotent; serve also runs it at start.",
		groups: storeGroups,
		setup:  cmdMigrate,
	},
	{
		name: "backup", synopsis: "PATH [flags]", summary: "copy a SQLite database, also while the server runs",
		about: "Write a consistent copy of the SQLite database to PATH, a new file, while servers\n" +
			"may go on using it. The copy is a complete database: to restore, stop the servers\n" +
			"and put it in place of the database file. For PostgreSQL use its own tools (pg_dump).",
		groups: storeGroups,
		args:   []string{"PATH"},
		setup:  cmdBackup,
	},
	{
		name: "bootstrap", synopsis: "--org NAME --email EMAIL [--json] [flags]",
		summary: "create an organization, its owner and an owner API key",
		about: "Create an organization with an OWNER (a new person unless the email is known) and\n" +
			"an API key for them. A new person's first password and the key are printed once.",
		groups: append([]group{groupScopes}, storeGroups...),
		setup:  cmdBootstrap,
	},
	{
		name: "members add", synopsis: "--org SLUG --email EMAIL --role ROLE [--json] [flags]",
		summary: "add a person to an organization, with an API key",
		about: "Add a person (created when new) to an existing organization with a role, and\n" +
			"issue them an API key. A new person's first password and the key are printed once.",
		groups: append([]group{groupScopes}, storeGroups...),
		setup:  cmdMembersAdd,
	},
	{
		name: "keys create", synopsis: "--org SLUG --email EMAIL [--name NAME] [--scopes SCOPES] [--expires WHEN] [--json] [flags]",
		summary: "issue a new API key to an existing member (e.g. a lost first key)",
		about: "Issue a new API key to an existing member of an organization, with at most their\n" +
			"role's scopes. This is the way back in when a key is lost, the first owner's key\n" +
			"included. The key is printed once.",
		groups: append([]group{groupScopes}, storeGroups...),
		setup:  cmdKeysCreate,
	},
	{
		name: "users reset-password", synopsis: "--email EMAIL [flags]",
		summary: "print a one-time link with which a person sets a new password",
		about: "Print a one-time link (valid 24 hours) with which the person of EMAIL sets a new\n" +
			"password on the web page; using it ends every session of theirs and signs them\n" +
			"in. Earlier links of theirs stop working. Give the link to them only.",
		groups: append([]group{groupAddress}, storeGroups...),
		setup:  cmdResetPassword,
	},
	{
		name: "signing-keys rotate", synopsis: "[flags]", summary: "make a new access token signing key",
		about: "Make a new key sign access tokens. The old keys stay published until the tokens\n" +
			"they signed have expired; running servers pick up the new key within seconds.",
		groups: append([]group{groupSigning, groupSecret}, storeGroups...),
		setup:  cmdRotate,
	},
	{
		name: "signing-keys revoke", synopsis: "KID [flags]", summary: "withdraw a leaked signing key at once",
		about: "Withdraw a signing key (KID, the kid of its tokens): its tokens are refused and it\n" +
			"leaves the JWKS at once here and within seconds on every running server. When it\n" +
			"was the key that signs, a new one takes over.",
		groups: append([]group{groupSigning, groupSecret}, storeGroups...),
		args:   []string{"KID"},
		setup:  cmdRevokeSigningKey,
	},
	{
		name: "signing-keys reencrypt", synopsis: "[flags]", summary: "encrypt every signing key with the first secret key",
		about: "Encrypt every signing key in the database with the first key of PTG_SECRET_KEY (or\n" +
			"of the file --secret-key-file names), reading each with whichever listed key it\n" +
			"was encrypted with, all in one transaction. The key pairs stay the same: tokens\n" +
			"verify as before. Run it after every server knows the first key; then the old key\n" +
			"may leave the list (keep it while backups made before need it).",
		groups: append([]group{groupSecret}, storeGroups...),
		setup:  cmdReencrypt,
	},
	{
		name: "secret-key generate", synopsis: "[--file PATH]", summary: "make a new secret key for PTG_SECRET_KEY",
		about: "Print a new secret key (32 random bytes in base64) for PTG_SECRET_KEY, or write it\n" +
			"to a new file readable by its owner only (for PTG_SECRET_KEY_FILE). Keep it\n" +
			"outside the database and its backups: without it the signing keys cannot be read.",
		setup: cmdGenerateSecretKey,
	},
	{
		name: "mcp config", synopsis: "--editor EDITOR [--url URL] [--key KEY]",
		summary: "print what an AI editor needs to use this server over MCP",
		about: "Print, ready to paste, what an AI editor needs to reach this server's MCP\n" +
			"endpoint with an API key: the command line to run (claude-code) or the\n" +
			"configuration file content (claude-desktop, cursor, vscode). Without --key the\n" +
			"snippet holds the placeholder ptg_your_key_here.",
		setup: cmdMCPConfig,
	},
	{
		name: "version", synopsis: "", summary: "print the version (also --version)",
		about: "Print the version of this build.",
		setup: cmdVersion,
	},
}

// errUsage marks a mistake on the command line (exit code 2); the message has
// been printed already.
var errUsage = errors.New("usage error")

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			if len(args) > 1 {
				if cmd, rest, _ := findCommand(args[1:]); cmd != nil && len(rest) == 0 {
					inv := newInvocation(cmd, stdout, stderr, getenv)
					cmd.setup(inv)
					fmt.Fprint(stdout, inv.help())
					return 0
				}
			}
			fmt.Fprint(stdout, topHelp())
			return 0
		case "-version", "--version":
			args = []string{"version"}
		}
	}
	cmd, args, err := findCommand(args)
	if err != nil {
		fmt.Fprintf(stderr, "pentographer: %v\nRun \"pentographer --help\" for the list of commands.\n", err)
		return 2
	}
	inv := newInvocation(cmd, stdout, stderr, getenv)
	work := cmd.setup(inv)
	cfg, err := inv.parse(args)
	if err == nil {
		err = work(ctx, cfg)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "pentographer %s: %v\n", cmd.name, err)
	return 1
}

// findCommand picks the command that args name, serve when they start with a
// flag or are empty, and returns the remaining arguments.
func findCommand(args []string) (*command, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return &commands[0], args, nil
	}
	if len(args) > 1 {
		if c := commandNamed(args[0] + " " + args[1]); c != nil {
			return c, args[2:], nil
		}
	}
	if c := commandNamed(args[0]); c != nil {
		return c, args[1:], nil
	}
	var subs []string
	for _, c := range commands {
		if first, _, ok := strings.Cut(c.name, " "); ok && first == args[0] {
			subs = append(subs, c.name)
		}
	}
	if len(subs) > 0 {
		if len(args) == 1 {
			return nil, nil, fmt.Errorf("%q needs a subcommand: %s", args[0], strings.Join(subs, ", "))
		}
		return nil, nil, fmt.Errorf("unknown command %q (did you mean %s?)", args[0]+" "+args[1], strings.Join(subs, ", "))
	}
	return nil, nil, fmt.Errorf("unknown command %q", args[0])
}

func commandNamed(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// takes reports whether the command reads option o.
func (c *command) takes(o option) bool { return slices.Contains(c.groups, o.group) }

// invocation is one run of a command: its flag set, the command's own flags (for
// help and required checks) and where output goes.
type invocation struct {
	cmd            *command
	fs             *flag.FlagSet
	own            []ownFlag
	settings       map[string]*string
	positional     []string
	getenv         func(string) string
	stdout, stderr io.Writer
}

// ownFlag is a flag of one command (not a setting): --org, --json, ...
type ownFlag struct {
	name, arg, def, usage string
	required              bool
	value                 func() string
}

func newInvocation(cmd *command, stdout, stderr io.Writer, getenv func(string) string) *invocation {
	fs := flag.NewFlagSet("pentographer "+cmd.name, flag.ContinueOnError)
	// parse reports mistakes itself and prints help to stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	inv := &invocation{cmd: cmd, fs: fs, settings: map[string]*string{}, stdout: stdout, stderr: stderr, getenv: getenv}
	for _, o := range options {
		if !cmd.takes(o) {
			continue
		}
		def := o.def
		if v := getenv(o.env); v != "" {
			def = v
		}
		if o.flag == "" {
			inv.settings[o.env] = &def
			continue
		}
		inv.settings[o.env] = fs.String(o.flag, def, o.usage)
	}
	return inv
}

// stringFlag declares one of the command's own text flags.
func (inv *invocation) stringFlag(name, arg, def, usage string, required bool) *string {
	p := inv.fs.String(name, def, usage)
	inv.own = append(inv.own, ownFlag{name: name, arg: arg, def: def, usage: usage, required: required, value: func() string { return *p }})
	return p
}

// boolFlag declares one of the command's own switches.
func (inv *invocation) boolFlag(name, usage string) *bool {
	p := inv.fs.Bool(name, false, usage)
	inv.own = append(inv.own, ownFlag{name: name, usage: usage, value: func() string { return "x" }})
	return p
}

// parse reads args and builds the validated Config from the command's settings
// (the others keep their defaults). --help prints the command's help to stdout;
// usage mistakes are reported once, on stderr.
func (inv *invocation) parse(args []string) (Config, error) {
	hint := func(format string, a ...any) error {
		fmt.Fprintf(inv.stderr, format, a...)
		fmt.Fprintf(inv.stderr, "Run \"pentographer %s --help\" for usage.\n", inv.cmd.name)
		return errUsage
	}
	// Positional arguments may stand between flags: parse up to each, keep it,
	// and go on with the rest.
	for {
		if err := inv.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(inv.stdout, inv.help())
				return Config{}, err
			}
			return Config{}, hint("pentographer %s: %v\n", inv.cmd.name, err)
		}
		if inv.fs.NArg() == 0 {
			break
		}
		if len(inv.positional) == len(inv.cmd.args) {
			return Config{}, hint("pentographer %s: unexpected argument %q\n", inv.cmd.name, inv.fs.Arg(0))
		}
		inv.positional = append(inv.positional, inv.fs.Arg(0))
		args = inv.fs.Args()[1:]
	}
	if len(inv.positional) < len(inv.cmd.args) {
		return Config{}, hint("pentographer %s needs %s\n", inv.cmd.name, strings.Join(inv.cmd.args[len(inv.positional):], " and "))
	}
	var missing []string
	for _, f := range inv.own {
		if f.required && strings.TrimSpace(f.value()) == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if len(missing) > 0 {
		return Config{}, hint("pentographer %s needs %s\n", inv.cmd.name, strings.Join(missing, " and "))
	}
	var c Config
	for _, o := range options {
		v := o.def
		if p, ok := inv.settings[o.env]; ok {
			v = *p
		}
		if err := o.set(&c, v); err != nil {
			return c, fmt.Errorf("%s: %w", o.name(), err)
		}
	}
	return c, c.validate()
}

// topHelp is what "pentographer --help" prints.
func topHelp() string {
	var b strings.Builder
	b.WriteString("pentographer: scoped API keys and OAuth clients for your organization.\n\n")
	b.WriteString("Usage:\n  pentographer [COMMAND] [flags]\n\nCommands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\nRun \"pentographer COMMAND --help\" for a command's flags. Every setting is also a\n" +
		"PTG_* environment variable, named in that help; a flag wins over its variable.\n")
	return b.String()
}

// help is what "pentographer COMMAND --help" prints: the command's own flags,
// then the settings it takes, each default shown once (the table's, whatever
// the environment says).
func (inv *invocation) help() string {
	type row struct{ left, usage, note string }
	var own, settings []row
	c := inv.cmd
	for _, f := range inv.own {
		left := "--" + f.name
		if f.arg != "" {
			left += " " + f.arg
		}
		note := ""
		if f.def != "" {
			note = fmt.Sprintf("default %q", f.def)
		}
		own = append(own, row{left, f.usage, note})
	}
	for _, o := range options {
		if !c.takes(o) {
			continue
		}
		left, note := "--"+o.flag+" "+o.arg, o.env
		if o.flag == "" {
			left, note = o.env+" "+o.arg, "variable only: a flag would show in the process list"
		}
		if o.def != "" {
			note += fmt.Sprintf(", default %q", o.def)
		}
		settings = append(settings, row{left, o.usage, note})
	}
	width := 0
	for _, r := range append(slices.Clone(own), settings...) {
		width = max(width, len(r.left))
	}
	write := func(b *strings.Builder, rows []row) {
		for _, r := range rows {
			left := r.left
			for _, line := range append(wrap(r.usage, helpWidth-width-4), r.note) {
				if line != "" {
					fmt.Fprintf(b, "  %-*s  %s\n", width, left, line)
				}
				left = ""
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: pentographer %s", c.name)
	if c.synopsis != "" {
		b.WriteString(" " + c.synopsis)
	}
	b.WriteString("\n\n" + c.about + "\n")
	if len(own) > 0 {
		b.WriteString("\nFlags:\n")
		write(&b, own)
	}
	if len(settings) > 0 {
		b.WriteString("\nSettings (each also the PTG_* variable named; a flag wins):\n")
		write(&b, settings)
	}
	return b.String()
}

// helpWidth is the width help text is wrapped to.
const helpWidth = 90

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
