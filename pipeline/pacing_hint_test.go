package pipeline

import (
	"testing"

	"github.com/scorepipe/scorepipe/pacing"
)

func TestCeilingHint(t *testing.T) {
	tests := []struct {
		name              string
		settled, accepted float64
		ceiling           float64
		want              float64
		ok                bool
	}{
		{"settled below the ceiling", 57.6, 58, 100, 58, true},
		{"settled at the floor, the vendor accepted more", 1, 300, 0, 300, true},
		{"settled at the floor, unlimited, nothing accepted", 0.4, 0, 0, 1, true},
		{"accepted as much as the ceiling", 57.6, 100, 100, 100, false},
		{"settled lower than accepted", 38.4, 45, 50, 45, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ceilingHint(pacing.Figures{Settled: tt.settled, Accepted: tt.accepted}, tt.ceiling)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ceilingHint = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
