package pacing

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Named is the pacer of a product, under the product's code; a nil Pacer
// has no figures.
type Named struct {
	Code  string
	Pacer *Pacer
}

// Attrs returns each product's pacing for the progress log line: its
// rate now (0: unlimited), the throttling answers and the seconds paused.
func Attrs(now time.Time, products []Named) []any {
	attrs := make([]any, 0, len(products))
	for _, p := range products {
		f := p.Pacer.Figures(now)
		attrs = append(attrs, slog.Group(p.Code, "rate", PerSecond(f.Rate), "throttled", f.Throttled,
			"paused_seconds", math.Round(f.Paused.Seconds()*10)/10))
	}
	return attrs
}

// Summary describes, for the progress bar, the pacing of the products
// the vendor has throttled: "JRZQ9E2A 58.8/s, 31 throttled, paused 1.0s";
// "" when it has throttled none.
func Summary(now time.Time, products []Named) string {
	var parts []string
	for _, p := range products {
		f := p.Pacer.Figures(now)
		if f.Throttled == 0 {
			continue
		}
		s := fmt.Sprintf("%s %s/s, %s throttled", p.Code, strconv.FormatFloat(PerSecond(f.Rate), 'f', 1, 64), thousands(f.Throttled))
		switch {
		case f.PausedNow:
			s += ", paused now"
		case f.Paused > 0:
			s += fmt.Sprintf(", paused %.1fs", f.Paused.Seconds())
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
