package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
)

// run builds the command tree and executes it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	build := readBuild()
	root := &cobra.Command{
		Use:           "scorepipe",
		Short:         "Score applicant files against risk-data APIs and write feature datasets",
		Version:       build.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(strings.ReplaceAll(buildText(build), "{{", "{ {"))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return plainFlagError(err) })
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
	root.AddCommand(newRunCommand(&g), newValidateCommand(&g), newPlanCommand(&g), newCatalogCommand(&g), newMockVendorCommand(&g),
		newBenchCommand(&g), newVersionCommand(&g), newReviewCommand(&g), newStoreCommand(&g))
	root.AddCommand(newAuditCommand(&g), newCollectCommand(&g))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	g.stdout, g.stderr = stdout, stderr
	g.build, g.args = build, args
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
	build        manifest.Build
	args         []string // the command line after the program name
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

// progressBar reports whether run draws a progress bar: on a terminal,
// unless the logs are asked for as JSON (every line on stderr is JSON
// then, progress included).
func (g *globalFlags) progressBar() bool {
	return g.stderrTerminal() && g.logFormat != "json"
}

// logger builds the slog logger: text on a terminal, JSON otherwise.
func (g *globalFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, &config.ConfigError{Field: "--log-level", Msg: fmt.Sprintf("must be debug, info, warn or error, got %q", g.logLevel)}
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
	return nil, &config.ConfigError{Field: "--log-format", Msg: fmt.Sprintf("must be text or json, got %q", format)}
}

// plainFlagError rewrites the parse errors of flag values, which name Go
// functions ("strconv.ParseInt: parsing "x": invalid syntax").
func plainFlagError(err error) error {
	msg := err.Error()
	for _, r := range flagErrorWords {
		msg = r.re.ReplaceAllString(msg, r.with)
	}
	return &config.ConfigError{Msg: msg}
}

var flagErrorWords = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`strconv\.Parse(Int|Uint)[^:]*: parsing "[^"]*": invalid syntax`), "not a whole number"},
	{regexp.MustCompile(`strconv\.ParseFloat[^:]*: parsing "[^"]*": invalid syntax`), "not a number"},
	{regexp.MustCompile(`strconv\.ParseBool[^:]*: parsing "[^"]*": invalid syntax`), "not true or false"},
	{regexp.MustCompile(`strconv\.Parse\w+[^:]*: parsing "[^"]*": value out of range`), "out of range"},
	{regexp.MustCompile(`time: (invalid|unknown unit|missing unit)[^"]*"[^"]*"( in duration "[^"]*")?`), "not a duration such as 15s, 200ms or 1h"},
}

// readBuild returns the facts of this build: the module version, the VCS
// revision, its time and whether the tree was modified, from the build
// information go build records; the values stamped at link time fill what
// it lacks.
func readBuild() manifest.Build {
	b := manifest.Build{Version: "(devel)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if b.Revision == "" {
		b.Revision = revision
	}
	return b
}

// Stamped at link time, for builds without VCS information (go build
// -buildvcs=false, a copy of the tree without .git):
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.revision=$(git rev-parse HEAD)" ./cmd/scorepipe
var (
	version  string
	revision string
)

// buildText is the build facts, a line each.
func buildText(b manifest.Build) string {
	var s strings.Builder
	fmt.Fprintf(&s, "scorepipe %s\n", b.Version)
	rev := b.Revision
	if rev == "" {
		rev = "unknown (built without VCS information; see scorepipe version --help)"
	}
	fmt.Fprintf(&s, "revision: %s\n", rev)
	if b.Time != "" {
		fmt.Fprintf(&s, "time:     %s\n", b.Time)
	}
	fmt.Fprintf(&s, "modified: %t\n", b.Modified)
	fmt.Fprintf(&s, "go:       %s\n", b.Go)
	return s.String()
}

func newVersionCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the build: version, VCS revision, whether the tree was modified, Go version",
		Long: `version prints the facts of this build that every manifest.json records under
"build": the module version, the VCS revision and its time, whether the tree
had uncommitted changes, and the Go version. go build records them when it
builds inside a git clone (not a git worktree), unless -buildvcs=false (also
through GOFLAGS); go run only with -buildvcs=true. A build without them can
stamp a version and a revision:
  go build -ldflags "-X main.version=v1.2.0 -X main.revision=$(git rev-parse HEAD)" ./cmd/scorepipe`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(g.build)
			}
			_, err := io.WriteString(g.stdout, buildText(g.build))
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the build as JSON, as in manifest.json")
	return cmd
}
