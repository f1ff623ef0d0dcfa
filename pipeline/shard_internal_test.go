package pipeline

import (
	"fmt"
	"testing"

	"github.com/scorepipe/scorepipe/config"
)

func TestShareConfig(t *testing.T) {
	tests := []struct {
		n         int
		in        config.ProductConfig
		limits    config.LimitsConfig
		want      config.ProductConfig
		wantCalls int64
		wantCost  float64
	}{
		{1, config.ProductConfig{RatePerSecond: 100, Burst: 5, Concurrency: 8, Price: 0.5}, config.LimitsConfig{MaxCalls: 1000, MaxCost: 500},
			config.ProductConfig{RatePerSecond: 100, Burst: 5, Concurrency: 8, Price: 0.5}, 1000, 500},
		{4, config.ProductConfig{RatePerSecond: 100, Burst: 5, Concurrency: 8, Price: 0.5}, config.LimitsConfig{MaxCalls: 1000, MaxCost: 500},
			config.ProductConfig{RatePerSecond: 25, Burst: 1, Concurrency: 2, Price: 0.5}, 250, 125},
		{3, config.ProductConfig{RatePerSecond: 50, Burst: 9, Concurrency: 8, Price: 2}, config.LimitsConfig{MaxCalls: 10},
			config.ProductConfig{RatePerSecond: 50.0 / 3, Burst: 3, Concurrency: 3, Price: 2}, 3, 0},
		{8, config.ProductConfig{RatePerSecond: 0, Burst: 1, Concurrency: 1}, config.LimitsConfig{MaxCalls: 5, MaxCost: 1},
			config.ProductConfig{RatePerSecond: 0, Burst: 1, Concurrency: 1}, 1, 0.125},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%+v", tt.n, tt.in), func(t *testing.T) {
			cfg := config.DefaultConfig()
			cfg.Products["JRZQ9E2A"] = tt.in
			cfg.Limits = tt.limits
			got := shareConfig(cfg, tt.n)
			if p := got.Products["JRZQ9E2A"]; p != tt.want {
				t.Errorf("product %+v, want %+v", p, tt.want)
			}
			if got.Limits.MaxCalls != tt.wantCalls || got.Limits.MaxCost != tt.wantCost {
				t.Errorf("limits %+v, want max_calls %d, max_cost %v", got.Limits, tt.wantCalls, tt.wantCost)
			}
			if cfg.Products["JRZQ9E2A"] != tt.in || cfg.Limits != tt.limits {
				t.Error("shareConfig changed the config it was given")
			}
		})
	}
}
