// Package cli is the hello command: it parses the sub-command and settings, wires the
// concrete dependencies together, and runs them. cmd/hello/main.go only calls Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/reqid"
)

// version is set at build time: -ldflags "-X github.com/hellosvc/hello/internal/cli.version=v1.2.3".
var version = ""

// Version returns the build's version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// ExitCode maps an error from Run to a process exit status: 2 for bad usage or configuration.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, config.ErrUsage):
		return 2
	}
	return 1
}

// Run runs the command line args (without the program name) in the environment environ
// (os.Environ form). Logs go to stdout as JSON; command output to stdout too. It returns when
// the command is done or, for serve, when ctx is cancelled and shutdown has finished.
func Run(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "version":
		_, err := fmt.Fprintln(stdout, "hello", Version())
		return err
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	case "shards":
		return shardsCommand(ctx, rest, environ, stdout)
	case "healthcheck":
		return healthcheckCommand(ctx, rest, environ, stdout)
	case "guard":
		return guardCommand(ctx, rest, environ, stdout)
	}
	cfg, log, err := loadConfig(rest, environ, stdout)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrate(ctx, cfg, log)
	}
	return fmt.Errorf("%w: unknown command %q (try: hello help)", config.ErrUsage, cmd)
}

// loadConfig reads the settings and returns them with a logger that has already reported
// unknown HELLO_* variables.
func loadConfig(args, environ []string, stdout io.Writer) (*config.Config, *slog.Logger, error) {
	cfg, warnings, err := config.Load(args, environ)
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(stdout, cfg.LogLevel)
	for _, w := range warnings {
		log.Warn(w)
	}
	return cfg, log, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(reqid.Handler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

func usage(w io.Writer) {
	fmt.Fprint(w, `hello: a login-protected web service.

Usage: hello [command] [--setting value ...]

Commands:
  serve          run the service (default)
  migrate        apply the embedded schema migrations (to every database) and exit
  shards status  per physical shard: reachable, logical shards held, accounts
  shards add --name NAME --dsn DSN
                 add an empty physical shard (DSN passwords as ${HELLO_..._PASSWORD})
  shards move --logical N --to NAME
                 move one logical shard online (safe to re-run after a crash)
  shards rebalance
                 move logical shards until every physical shard holds an even share
  healthcheck [URL]
                 probe /healthz of the local service, or URL (e.g. http://hello/readyz);
                 exit 0 when it answers 200, 1 otherwise
  guard status NAME
                 a name's failed logins in the window and when its lock ends
  guard unlock NAME
                 clear a name's failed logins (one audit log line); both work on the
                 shared Redis store, or through the admin listener (HELLO_ADMIN_TOKEN)
  version        print the version
  help           show this help

Settings (flags override the HELLO_* environment variables):
`)
	config.Usage(w)
}
