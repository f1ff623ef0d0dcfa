// Command scorepipe scores applicant files against risk-data APIs and
// writes feature datasets. See the README for the commands and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/scorepipe/scorepipe/collect"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/metrics"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/publish"
	"github.com/scorepipe/scorepipe/review"
	"github.com/scorepipe/scorepipe/rundir"
	"github.com/scorepipe/scorepipe/shards"
	"github.com/scorepipe/scorepipe/sources"
)

// Exit codes.
const (
	exitOK      = 0
	exitUsage   = 1 // usage, config, input file or mapping error
	exitRows    = 2 // done, but not complete (run) or some rows would be rejected (validate), or a review alert fired
	exitAborted = 3 // stopped early (fatal vendor error, budget, interrupt); rerun to resume
)

func main() {
	con := newConsole(os.Stderr, os.Args[1:])
	ctx, stop := signalContext(con)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	code := exitCode(err)
	con.exit(err, code)
	stop()
	os.Exit(code)
}

// sameSignal is how soon after the first a signal counts as the same one:
// "timeout 4 scorepipe run" delivers its SIGTERM to the process and to its
// process group, so the process receives it twice at once.
const sameSignal = time.Second

// signalContext is cancelled by the first SIGINT, SIGTERM or SIGHUP, so
// that the run stops cleanly and stays resumable; a signal that comes
// later than sameSignal after the first exits at once.
func signalContext(con *console) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		var first os.Signal
		select {
		case first = <-ch:
		case <-ctx.Done():
			return
		}
		at := time.Now()
		con.say(slog.LevelWarn, "stopping: finishing the calls in flight (signal again to exit at once)", "signal", signalName(first))
		cancel()
		for sig := range ch {
			if time.Since(at) < sameSignal {
				continue // the same signal, delivered twice
			}
			con.say(slog.LevelError, "exiting at once", "signal", signalName(sig), "exit_code", exitAborted)
			os.Exit(exitAborted)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

func signalName(s os.Signal) string {
	if sig, ok := s.(syscall.Signal); ok {
		switch sig {
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGTERM:
			return "SIGTERM"
		case syscall.SIGHUP:
			return "SIGHUP"
		}
	}
	return s.String()
}

// console prints the lines scorepipe itself writes to stderr outside the
// logs of a command (the last error, the signal notices) in the format of
// the logs: JSON lines with --log-format json or when stderr is not a
// terminal, plain text otherwise.
type console struct {
	mu   sync.Mutex
	w    io.Writer
	json *slog.Logger // nil for plain text
}

func newConsole(w io.Writer, args []string) *console {
	c := &console{w: w}
	if logFormat(args, isTerminal(w)) == "json" {
		c.json = slog.New(slog.NewJSONHandler(w, nil))
	}
	return c
}

// logFormat is the log format args ask for, or the default: text on a
// terminal, JSON otherwise. It reads the flag before the command line is
// parsed, so that even a line about a bad command line is in the format
// asked for.
func logFormat(args []string, terminal bool) string {
	format := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "--log-format" && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(a, "--log-format="):
			format = strings.TrimPrefix(a, "--log-format=")
		}
	}
	if format == "text" || format == "json" {
		return format
	}
	if terminal {
		return "text"
	}
	return "json"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// say writes one line.
func (c *console) say(level slog.Level, msg string, attrs ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.json != nil {
		c.json.Log(context.Background(), level, msg, attrs...)
		return
	}
	var b strings.Builder
	b.WriteString("scorepipe: " + msg)
	for i := 0; i+1 < len(attrs); i += 2 {
		if k := fmt.Sprint(attrs[i]); k != "exit_code" && k != "reasons" {
			fmt.Fprintf(&b, " (%s %v)", k, attrs[i+1])
		}
	}
	fmt.Fprintln(c.w, b.String())
}

// final writes the error a command ends with, on one line.
func (c *console) final(err error, code int) {
	attrs := []any{"exit_code", code}
	var inc *pipeline.Incomplete
	if errors.As(err, &inc) {
		attrs = append(attrs, "reasons", inc.Reasons)
	}
	c.say(slog.LevelError, oneLine(err.Error()), attrs...)
}

// exit writes the last line of a command that ends with err and code:
// the error (see final); with JSON lines, also the last line of a command
// that succeeded or whose error was already printed, so that every run's
// last line holds its exit_code. Plain text says nothing more then.
func (c *console) exit(err error, code int) {
	switch {
	case err != nil && !errors.Is(err, errReported):
		c.final(err, code)
	case c.json == nil:
	case err != nil:
		c.say(slog.LevelError, oneLine(err.Error()), "exit_code", code)
	default:
		c.say(slog.LevelInfo, "exit", "exit_code", code)
	}
}

// oneLine joins the lines of a message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// errReported marks an error whose message was already printed.
var errReported = errors.New("reported")

// exitCode maps an error to the exit code; the one place that does.
func exitCode(err error) int {
	var (
		abort   *pipeline.AbortError
		over    *pipeline.OverBudget
		stopped *interrupted
		cfgErr  *config.ConfigError
		fileErr *sources.FileError
		mapErr  *mappings.Error
		rowsErr *rowsRejected
		alerts  *review.AlertError
		notPub  *collect.NotPublishedError
		mis     *collect.MismatchError
		damaged *collect.DamagedPartError
		runData *rundir.DamagedError
		locked  *publish.LockedError
		shErr   *shards.Error
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &abort), errors.As(err, &over), errors.As(err, &stopped), errors.As(err, &notPub), errors.As(err, &locked):
		return exitAborted
	case errors.As(err, &mis), errors.As(err, &shErr), errors.As(err, &damaged), errors.As(err, &runData):
		return exitUsage
	}
	if code, ok := storeExitCode(err); ok {
		return code
	}
	if code, ok := auditExitCode(err); ok {
		return code
	}
	switch {
	case errors.Is(err, pipeline.ErrRowsFailed), errors.As(err, &rowsErr), errors.As(err, &alerts):
		return exitRows
	case errors.As(err, &cfgErr), errors.As(err, &fileErr), errors.As(err, &mapErr):
		return exitUsage
	}
	return exitUsage
}

// reasonOf is why a command ended as it did, as the metrics' reason
// label gives it: one of the fixed phrases of package metrics, never the
// error's message (which may quote a value of the data). "" when done.
func reasonOf(err error) string {
	var (
		abort   *pipeline.AbortError
		pubErr  *pipeline.PublishError
		over    *pipeline.OverBudget
		stopped *interrupted
		notPub  *collect.NotPublishedError
		locked  *publish.LockedError
		keys    *review.KeysError
	)
	switch {
	case err == nil:
		return metrics.ReasonDone
	case errors.As(err, &keys):
		return metrics.ReasonKeys
	case errors.As(err, &over):
		return metrics.ReasonBudget
	case errors.As(err, &stopped), errors.As(err, &abort) && abort.Interrupted:
		return metrics.ReasonInterrupted
	case errors.As(err, &pubErr):
		return metrics.ReasonPublish
	case errors.As(err, &locked):
		return metrics.ReasonLocked
	case errors.As(err, &notPub):
		return metrics.ReasonNotAll
	}
	switch exitCode(err) {
	case exitRows:
		return metrics.ReasonIncomplete
	case exitAborted:
		return metrics.ReasonStopped
	}
	return metrics.ReasonUsage
}

// rowsRejected is validate's verdict when some rows would be rejected.
type rowsRejected struct{ n int }

func (e *rowsRejected) Error() string { return fmt.Sprintf("%d rows would be rejected", e.n) }

// interrupted says a command that calls nothing (validate, plan) was
// stopped by a signal before it read every row.
type interrupted struct{ what string }

func (e *interrupted) Error() string {
	return "interrupted: " + e.what + " is incomplete; rerun the same command"
}
