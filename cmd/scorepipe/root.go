package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

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
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) to this file")
	root.PersistentFlags().StringVar(&g.allocProfile, "allocprofile", "", "write an allocation profile (pprof) to this file at the end")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	_ = root.PersistentFlags().MarkHidden("allocprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.allocProfile != "" {
			g.stopAllocs = func() {
				if f, err := os.Create(g.allocProfile); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
			}
		}
		if g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return err
		}
		g.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) { g.stop() }
	root.AddCommand(newRunCommand(&g), newValidateCommand(&g), newPlanCommand(&g), newCatalogCommand(&g), newMockVendorCommand(&g), newBenchCommand(&g), newStoreCommand(&g))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	g.stdout, g.stderr = stdout, stderr
	defer g.stop() // PersistentPostRun does not run when the command fails
	return root.ExecuteContext(ctx)
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	logFormat    string
	logLevel     string
	cpuProfile   string
	allocProfile string
	stopProfile  func()
	stopAllocs   func()
	stdout       io.Writer
	stderr       io.Writer
}

// stop ends the CPU profile, once.
func (g *globalFlags) stop() {
	if g.stopProfile != nil {
		g.stopProfile()
		g.stopProfile = nil
	}
	if g.stopAllocs != nil {
		g.stopAllocs()
		g.stopAllocs = nil
	}
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
