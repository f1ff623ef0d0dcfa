// Command scorepipe scores applicant files against risk-data APIs and
// writes feature datasets. See the README for the commands and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/sources"
)

// Exit codes.
const (
	exitOK      = 0
	exitUsage   = 1 // usage, config, input file or mapping error
	exitRows    = 2 // done, but some rows failed (run) or would be rejected (validate)
	exitAborted = 3 // stopped early (fatal vendor error, budget, interrupt); rerun to resume
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	code := exitCode(err)
	if err != nil && !errors.Is(err, errReported) {
		fmt.Fprintln(os.Stderr, "scorepipe:", err)
	}
	stop()
	os.Exit(code)
}

// signalContext is cancelled by the first SIGINT or SIGTERM, so that the
// run stops cleanly and stays resumable; a second signal exits at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(os.Stderr, "scorepipe: stopping: finishing the calls in flight (signal again to exit at once)")
		cancel()
		<-ch
		fmt.Fprintln(os.Stderr, "scorepipe: exiting at once")
		os.Exit(exitAborted)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// errReported marks an error whose message was already printed.
var errReported = errors.New("reported")

// exitCode maps an error to the exit code; the one place that does.
func exitCode(err error) int {
	var (
		abort   *pipeline.AbortError
		cfgErr  *pipeline.ConfigError
		fileErr *sources.FileError
		mapErr  *mappings.Error
		rowsErr *rowsRejected
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &abort):
		return exitAborted
	}
	if code, ok := storeExitCode(err); ok {
		return code
	}
	switch {
	case errors.Is(err, pipeline.ErrRowsFailed), errors.As(err, &rowsErr):
		return exitRows
	case errors.As(err, &cfgErr), errors.As(err, &fileErr), errors.As(err, &mapErr):
		return exitUsage
	}
	return exitUsage
}

// rowsRejected is validate's verdict when some rows would be rejected.
type rowsRejected struct{ n int }

func (e *rowsRejected) Error() string { return fmt.Sprintf("%d rows would be rejected", e.n) }

var _ io.Writer = os.Stdout
