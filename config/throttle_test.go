package config_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/config"
)

func TestThrottleConfig(t *testing.T) {
	tests := []struct {
		name     string
		set      []string
		budget   time.Duration
		codes    []int
		badField string // "" when the config is valid
	}{
		{"defaults", nil, 10 * time.Minute, []int{}, ""},
		{"a budget", []string{"retry.throttle_budget=90s"}, 90 * time.Second, []int{}, ""},
		{"no budget", []string{"retry.throttle_budget=0s"}, 0, []int{}, ""},
		{"a negative budget", []string{"retry.throttle_budget=-1s"}, 0, nil, "retry.throttle_budget"},
		{"throttling codes", []string{"vendor.codes.throttle=[1099, 4290]"}, 10 * time.Minute, []int{1099, 4290}, ""},
		{"a retryable code as throttling", []string{"vendor.codes.throttle=[1001]"}, 10 * time.Minute, []int{1001}, ""},
		{"code 0", []string{"vendor.codes.throttle=[0]"}, 0, nil, "vendor.codes.throttle"},
		{"a fatal code", []string{"vendor.codes.throttle=[1007]"}, 0, nil, "vendor.codes.throttle"},
		{"a no-record code", []string{"vendor.codes.no_record=[2001]", "vendor.codes.throttle=[2001]"}, 0, nil, "vendor.codes.throttle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.LoadConfig("../samples/pipeline.yaml", tt.set...)
			if tt.badField != "" {
				var ce *config.ConfigError
				if !errors.As(err, &ce) || ce.Field != tt.badField {
					t.Fatalf("err = %v, want a ConfigError on %s", err, tt.badField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Retry.ThrottleBudget != tt.budget || !slices.Equal(cfg.Vendor.Codes.Throttle, tt.codes) {
				t.Errorf("throttle_budget %v, codes.throttle %v, want %v, %v", cfg.Retry.ThrottleBudget, cfg.Vendor.Codes.Throttle, tt.budget, tt.codes)
			}
			if !slices.Equal(cfg.Vendor.Codes.Retryable, []int{1001}) {
				t.Errorf("codes.retryable %v, want the default [1001] kept", cfg.Vendor.Codes.Retryable)
			}
		})
	}
}
