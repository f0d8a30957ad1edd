// Command cardline is the controller of the HSE-card production and fulfilment line: the service
// (serve), the demo, and the operator and logistics subcommands. Every subcommand has --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// A command is one subcommand. Groups (chip, card, ship, …) hold subcommands of their own.
type command struct {
	name    string
	summary string
	// run parses its own flags from args (a flag.FlagSet made with newFlags) and does the work.
	run  func(ctx context.Context, app *app, args []string) error
	subs []command
}

// app carries what every subcommand shares: where output goes and the logger.
type app struct {
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// commands lists the top-level subcommands. Each lives in a file named after it.
func commands() []command {
	return []command{
		migrateCommand(),
		serveCommand(),
		submitCommand(),
		ordersCommand(),
		demoCommand(),
		loadCommand(),
		faultrunCommand(),
		chipCommand(),
		temporaryCommand(),
		cardCommandWith(storedFace),
		shipCommand(),
		batchCommand(),
		stationCommand(),
		stockCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{
		stdout: os.Stdout,
		stderr: os.Stderr,
		log:    newLogger(os.Stderr, os.Getenv("CARDLINE_LOG_FORMAT")),
	}
	if err := dispatch(ctx, a, "cardline", commands(), os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "cardline: %v\n", err)
		os.Exit(1)
	}
}

// dispatch runs the subcommand named by args[0] among cmds.
func dispatch(ctx context.Context, a *app, prefix string, cmds []command, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(a.stdout, prefix, cmds)
		if len(args) == 0 {
			return errors.New("a subcommand is required")
		}
		return flag.ErrHelp
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		if len(c.subs) > 0 {
			return dispatch(ctx, a, prefix+" "+c.name, c.subs, args[1:])
		}
		return c.run(ctx, a, args[1:])
	}
	printUsage(a.stderr, prefix, cmds)
	return fmt.Errorf("%s: unknown subcommand %q", prefix, args[0])
}

func printUsage(w io.Writer, prefix string, cmds []command) {
	fmt.Fprintf(w, "usage: %s <subcommand> [flags] [args]\n\nsubcommands:\n", prefix)
	sorted := append([]command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <subcommand> --help' for its flags.\n", prefix)
}

// newFlags makes the flag set of one subcommand; its usage line names the arguments it takes.
func newFlags(a *app, name, argsUsage, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags] %s\n\n%s\n\nflags:\n", name, argsUsage, summary)
		fs.PrintDefaults()
	}
	return fs
}

// newLogger logs JSON lines (one object a line, for the log pipeline), or text for people when
// format is "text".
func newLogger(w io.Writer, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
