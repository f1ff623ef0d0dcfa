package pacing

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPaceSummary checks what the progress line and bar show.
func TestPaceSummary(t *testing.T) {
	t0 := time.Now()
	slowed := testPacer(100, 0, t0, 60)
	_ = throttle(slowed, t0, t0, time.Hour)
	products := []Named{
		{Code: "COMBTY11", Pacer: testPacer(20, 0, t0, 0)},
		{Code: "JRZQ9E2A", Pacer: slowed},
		{Code: "NOPACE01"},
	}
	if got, want := Summary(time.Now(), products), "JRZQ9E2A 57.6/s, 1 throttled, paused now"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("progress", Attrs(time.Now(), products)...)
	for _, want := range []string{"COMBTY11.rate=20 COMBTY11.throttled=0 COMBTY11.paused_seconds=0", "JRZQ9E2A.rate=57.6 JRZQ9E2A.throttled=1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("progress line %q does not hold %q", b.String(), want)
		}
	}
}
