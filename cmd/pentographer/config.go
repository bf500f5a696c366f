package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pentographer/pentographer/auth"
	"github.com/pentographer/pentographer/server"
)

// Config is every setting of the binary, read from flags and PTG_* variables (a
// flag wins over its variable). It is built once here and passed down. A command
// reads only the settings it takes; the others keep their defaults.
type Config struct {
	Listen      string
	DatabaseURL string
	// PublicURL is the configured public URL; empty means "derived from the
	// listen address" (see PublicBase).
	PublicURL      string
	LogFormat      string
	LogLevel       string
	ExtraScopes    string
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	ShutdownGrace  time.Duration
	BootstrapOrg   string
	BootstrapEmail string
	TokenTTL       time.Duration
	TokenAudience  string
	SigningAlg     string
	ClientFailures int
	AddrFailures   int
	// Creation limits (auth.CreationLimits).
	CreateRate      int
	MaxKeysPerUser  int
	MaxClients      int
	TrustedProxies  string
	ForwardedHeader string
	SessionIdle     time.Duration
	SessionMax      time.Duration
	MCPRate         int
	// SecretKey is PTG_SECRET_KEY (a variable only); SecretKeyFile names a
	// file holding the same. At most one is set; see SecretKeys.
	SecretKey     string
	SecretKeyFile string
	// MetricsListen is the address of the Prometheus listener ("": none).
	MetricsListen string
}

// group is a set of settings that travel together; a command takes whole groups,
// so a new setting is one row of the options table and reaches every command of
// its group.
type group int

// The groups.
const (
	groupStore      group = iota // where the data lives
	groupLog                     // how the process logs
	groupScopes                  // the deployment's scope catalog
	groupSigning                 // how access tokens are signed
	groupSecret                  // the secret key that encrypts signing keys at rest
	groupHTTP                    // the server's limits and HTTP settings
	groupAddress                 // where the server listens and the public URL
	groupFirstStart              // what the first start creates
)

// option describes one setting: its flag, its variable, the placeholder shown
// in help, its default (empty: none, or explained in usage), its help, its group
// and how it is stored in a Config. A setting without a flag is read from its
// variable only: a secret given as a flag would show in the process list.
type option struct {
	flag, env, arg, def, usage string
	group                      group
	set                        func(c *Config, v string) error
}

// name is how messages refer to the setting: "--flag / PTG_VAR", or the
// variable alone.
func (o option) name() string {
	if o.flag == "" {
		return o.env
	}
	return "--" + o.flag + " / " + o.env
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 30s, got %q", v)
		}
		*p(c) = d
		return nil
	}
}

func count(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("want a positive whole number, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

// The defaults of the server and the auth service live in their packages; the
// table shows them.
var (
	serverDefaults = server.DefaultConfig()
	authDefaults   = auth.DefaultOptions()
)

// durationText writes a duration as people do: 1h, 30s, 168h.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// options lists every setting, in the order help shows them; it is the single
// source of their names, variables, defaults and help.
var options = []option{
	{"database-url", "PTG_DATABASE_URL", "URL", "sqlite:pentographer.db", "store: sqlite:PATH (embedded) or postgres://...",
		groupStore, str(func(c *Config) *string { return &c.DatabaseURL })},
	{"listen", "PTG_LISTEN", "ADDR", ":8080", "address the HTTP server listens on, host:port or :port",
		groupAddress, str(func(c *Config) *string { return &c.Listen })},
	{"metrics-listen", "PTG_METRICS_LISTEN", "ADDR", "", "address of a separate listener serving Prometheus metrics at /metrics, host:port (unset: none)",
		groupHTTP, str(func(c *Config) *string { return &c.MetricsListen })},
	{"public-url", "PTG_PUBLIC_URL", "URL", "", "public base URL: token issuer, links (unset: http://localhost:PORT, the port of --listen)",
		groupAddress, str(func(c *Config) *string { return &c.PublicURL })},
	{"log-format", "PTG_LOG_FORMAT", "FORMAT", "auto", "log format: json, text, or auto (text on a terminal, else json)",
		groupLog, str(func(c *Config) *string { return &c.LogFormat })},
	{"log-level", "PTG_LOG_LEVEL", "LEVEL", "info", "log level: debug, info, warn or error",
		groupLog, str(func(c *Config) *string { return &c.LogLevel })},
	{"extra-scopes", "PTG_SCOPES", "SCOPES", "", "extra scopes for your own resource servers, space- or comma-separated",
		groupScopes, str(func(c *Config) *string { return &c.ExtraScopes })},
	{"max-body-bytes", "PTG_MAX_BODY_BYTES", "N", strconv.FormatInt(serverDefaults.MaxBodyBytes, 10), "largest request body accepted, in bytes",
		groupHTTP, func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 {
				return fmt.Errorf("want a byte count of at least 1024, got %q", v)
			}
			c.MaxBodyBytes = n
			return nil
		}},
	{"request-timeout", "PTG_REQUEST_TIMEOUT", "DURATION", durationText(serverDefaults.RequestTimeout), "longest time spent on one request",
		groupHTTP, dur(func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"shutdown-grace", "PTG_SHUTDOWN_GRACE", "DURATION", "10s", "how long in-flight requests may finish on shutdown",
		groupHTTP, dur(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	{"token-ttl", "PTG_TOKEN_TTL", "DURATION", durationText(authDefaults.Tokens.TTL), "lifetime of an access token (1m to 24h)",
		groupSigning, dur(func(c *Config) *time.Duration { return &c.TokenTTL })},
	{"token-audience", "PTG_TOKEN_AUDIENCE", "AUD", "", "aud claim of access tokens (unset: the public URL + /graphql)",
		groupHTTP, str(func(c *Config) *string { return &c.TokenAudience })},
	{"signing-alg", "PTG_SIGNING_ALG", "ALG", authDefaults.Tokens.Alg, "JWS algorithm of new signing keys: ES256, ES384 or RS256",
		groupSigning, str(func(c *Config) *string { return &c.SigningAlg })},
	{"", "PTG_SECRET_KEY", "KEYS", "",
		"secret key that encrypts signing keys in the database: 32 random bytes in base64 " +
			"(pentographer secret-key generate); while changing keys, several comma-separated, the first encrypting",
		groupSecret, str(func(c *Config) *string { return &c.SecretKey })},
	{"secret-key-file", "PTG_SECRET_KEY_FILE", "PATH", "", "file holding the secret key(s), instead of PTG_SECRET_KEY",
		groupSecret, str(func(c *Config) *string { return &c.SecretKeyFile })},
	{"client-failure-limit", "PTG_CLIENT_FAILURE_LIMIT", "N", strconv.Itoa(serverDefaults.ClientFailureLimit),
		"failed client authentications of one client id from one address per minute before 429 there",
		groupHTTP, count(func(c *Config) *int { return &c.ClientFailures })},
	{"address-failure-limit", "PTG_ADDRESS_FAILURE_LIMIT", "N", strconv.Itoa(serverDefaults.AddressFailureLimit),
		"failed client authentications from one address per minute before 429",
		groupHTTP, count(func(c *Config) *int { return &c.AddrFailures })},
	{"trusted-proxies", "PTG_TRUSTED_PROXIES", "CIDRS", "",
		"proxies whose forwarding header is believed for the client's address (limits, audit), comma-separated CIDRs",
		groupHTTP, func(c *Config, v string) error {
			if _, err := server.ParseTrustedProxies(v); err != nil {
				return err
			}
			c.TrustedProxies = v
			return nil
		}},
	{"forwarded-header", "PTG_FORWARDED_HEADER", "NAME", server.HeaderXForwardedFor,
		"the one forwarding header the trusted proxies set: X-Forwarded-For or Forwarded (the other is ignored)",
		groupHTTP, func(c *Config, v string) error {
			h, err := server.ParseForwardedHeader(v)
			c.ForwardedHeader = h
			return err
		}},
	{"create-rate", "PTG_CREATE_RATE", "N", strconv.Itoa(authDefaults.Limits.PerMinute),
		"API keys and OAuth clients one person may create per minute",
		groupHTTP, count(func(c *Config) *int { return &c.CreateRate })},
	{"max-keys-per-user", "PTG_MAX_KEYS_PER_USER", "N", strconv.Itoa(authDefaults.Limits.MaxAPIKeys),
		"active API keys one person may hold in an organization",
		groupHTTP, count(func(c *Config) *int { return &c.MaxKeysPerUser })},
	{"max-clients-per-user", "PTG_MAX_CLIENTS_PER_USER", "N", strconv.Itoa(authDefaults.Limits.MaxOAuthClients),
		"active OAuth clients one person may hold in an organization",
		groupHTTP, count(func(c *Config) *int { return &c.MaxClients })},
	{"mcp-rate", "PTG_MCP_RATE", "N", strconv.Itoa(serverDefaults.MCPRate),
		"requests one credential may make to /mcp per minute before 429",
		groupHTTP, count(func(c *Config) *int { return &c.MCPRate })},
	{"session-idle-timeout", "PTG_SESSION_IDLE_TIMEOUT", "DURATION", durationText(authDefaults.SessionIdle),
		"a signed-in session not used for this long ends",
		groupHTTP, dur(func(c *Config) *time.Duration { return &c.SessionIdle })},
	{"session-lifetime", "PTG_SESSION_LIFETIME", "DURATION", durationText(authDefaults.SessionLifetime),
		"a signed-in session ends this long after sign-in, used or not",
		groupHTTP, dur(func(c *Config) *time.Duration { return &c.SessionMax })},
	{"bootstrap-org", "PTG_BOOTSTRAP_ORG", "NAME", "My Organization", "name of the organization created on first start",
		groupFirstStart, str(func(c *Config) *string { return &c.BootstrapOrg })},
	{"bootstrap-email", "PTG_BOOTSTRAP_EMAIL", "EMAIL", "owner@example.com", "email of the owner created on first start",
		groupFirstStart, str(func(c *Config) *string { return &c.BootstrapEmail })},
}

func (c Config) validate() error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("--public-url / PTG_PUBLIC_URL must be an absolute http(s) URL without query or fragment")
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen / PTG_LISTEN must be host:port or :port, not %q", c.Listen)
	}
	if _, _, err := net.SplitHostPort(c.MetricsListen); c.MetricsListen != "" && err != nil {
		return fmt.Errorf("--metrics-listen / PTG_METRICS_LISTEN must be host:port or :port, not %q", c.MetricsListen)
	}
	if err := c.Tokens().Validate(); err != nil {
		return fmt.Errorf("token settings: %w", err)
	}
	if _, err := auth.NormalizeEmail(c.BootstrapEmail); err != nil {
		return fmt.Errorf("--bootstrap-email / PTG_BOOTSTRAP_EMAIL: %w", err)
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		return fmt.Errorf("--log-format / PTG_LOG_FORMAT must be auto, json or text, not %q", c.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level / PTG_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		return errors.New("PTG_SECRET_KEY and --secret-key-file / PTG_SECRET_KEY_FILE are both set; set one of them")
	}
	return nil
}

// SecretKeys reads the secret keys that encrypt signing keys at rest: from
// PTG_SECRET_KEY or from the file --secret-key-file names (nil when neither is
// set). A file others may read is used, with a warning.
func (c Config) SecretKeys(log *slog.Logger) (*auth.SecretKeys, error) {
	switch {
	case c.SecretKey != "":
		keys, err := auth.ParseSecretKeys(c.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("PTG_SECRET_KEY: %w", err)
		}
		return keys, nil
	case c.SecretKeyFile == "":
		return nil, nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("--secret-key-file / PTG_SECRET_KEY_FILE %q: %s", c.SecretKeyFile, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(c.SecretKeyFile)
	if err != nil {
		return nil, fail("%v", pathReason(err))
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, fail("%v", pathReason(err))
	case !st.Mode().IsRegular():
		return nil, fail("not a regular file")
	case st.Size() > 4096:
		return nil, fail("%d bytes is too long for secret keys", st.Size())
	}
	if perm := st.Mode().Perm(); perm&0o004 != 0 {
		log.Warn("the secret key file is readable by every user of this machine; restrict it, e.g. chmod 600",
			"path", c.SecretKeyFile, "mode", fmt.Sprintf("%04o", perm))
	}
	text, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return nil, fail("%v", pathReason(err))
	}
	defer clear(text)
	keys, err := auth.ParseSecretKeys(string(text))
	if err != nil {
		return nil, fail("%v", err)
	}
	return keys, nil
}

// pathReason drops the path from a file error: the message names it already.
func pathReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// PublicBase is the public URL without a trailing slash: the configured one, or
// else one built from the listen address.
func (c Config) PublicBase() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return publicURLFor(c.Listen)
}

// publicURLFor is the default public URL of a server listening on addr:
// http://localhost:PORT when it listens on every interface or on a loopback
// address, else http://HOST:PORT.
func publicURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost"
	}
	if ip := net.ParseIP(host); host == "" || host == "localhost" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Tokens is the access token configuration.
func (c Config) Tokens() auth.TokenConfig {
	aud := c.TokenAudience
	if aud == "" {
		aud = c.PublicBase() + "/graphql"
	}
	return auth.TokenConfig{Issuer: c.PublicBase(), Audience: aud, TTL: c.TokenTTL, Alg: c.SigningAlg}
}

// AuthOptions are the auth service's options of this configuration, with the
// secret keys read by SecretKeys.
func (c Config) AuthOptions(catalog *auth.Catalog, secrets *auth.SecretKeys, log *slog.Logger) auth.Options {
	return auth.Options{
		Catalog: catalog, Tokens: c.Tokens(), Logger: log, PublicURL: c.PublicBase(), SecretKeys: secrets,
		Limits:      auth.CreationLimits{PerMinute: c.CreateRate, MaxAPIKeys: c.MaxKeysPerUser, MaxOAuthClients: c.MaxClients},
		SessionIdle: c.SessionIdle, SessionLifetime: c.SessionMax,
	}
}

// ServerConfig is the HTTP server's part of this configuration.
func (c Config) ServerConfig() server.Config {
	proxies, _ := server.ParseTrustedProxies(c.TrustedProxies) // validated when parsed
	return server.Config{
		PublicURL: c.PublicBase(), MaxBodyBytes: c.MaxBodyBytes, RequestTimeout: c.RequestTimeout,
		ClientFailureLimit: c.ClientFailures, AddressFailureLimit: c.AddrFailures, TrustedProxies: proxies,
		ForwardedHeader: c.ForwardedHeader, MCPRate: c.MCPRate,
	}
}

// Scopes splits the operator's extra scopes.
func (c Config) Scopes() []string { return splitList(c.ExtraScopes) }

// splitList splits a space- or comma-separated list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}

// logger builds the process logger: JSON in production, text on a terminal.
func (c Config) logger(w io.Writer) *slog.Logger {
	log, _ := c.logging(w)
	return log
}

// logging builds the process logger and, when it writes JSON, the LogWriter
// it writes through, which the server's access log shares (nil for text).
// Whoever gets a LogWriter closes it when done, to write what it buffered.
func (c Config) logging(w io.Writer) (*slog.Logger, *server.LogWriter) {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	text := c.LogFormat == "text"
	if c.LogFormat == "auto" {
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				text = true
			}
		}
	}
	if text {
		return slog.New(server.LogHandler(slog.NewTextHandler(w, opts))), nil
	}
	lw := server.NewLogWriter(w)
	return slog.New(server.LogHandler(slog.NewJSONHandler(lw, opts))), lw
}
