package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// run builds the command tree and executes it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "scorepipe",
		Short:         "Score applicant files against risk-data APIs and write feature datasets",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var g globalFlags
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log format: text or json (default: text on a terminal, json otherwise)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newRunCommand(&g), newValidateCommand(&g), newPlanCommand(&g), newCatalogCommand(&g), newMockVendorCommand(&g))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	g.stdout, g.stderr = stdout, stderr
	return root.ExecuteContext(ctx)
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	logFormat string
	logLevel  string
	stdout    io.Writer
	stderr    io.Writer
}

// stderrTerminal reports whether stderr is a terminal.
func (g *globalFlags) stderrTerminal() bool {
	f, ok := g.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logger builds the slog logger: text on a terminal, JSON otherwise.
func (g *globalFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := g.logFormat
	if format == "" {
		format = "json"
		if g.stderrTerminal() {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}
