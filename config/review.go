package config

import (
	"errors"
	"path/filepath"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/review"
)

// resolveReview makes the review section's paths relative to the config
// file.
func (c *Config) resolveReview() {
	c.Review.Baseline = c.resolve(c.Review.Baseline)
	c.Review.Rules = c.resolve(c.Review.Rules)
}

// validateReview checks the review section.
func (c *Config) validateReview() error {
	err := c.Review.Validate()
	var fe *review.FieldError
	if errors.As(err, &fe) {
		return &ConfigError{Field: fe.Field, Msg: fe.Msg}
	}
	return err
}

// AuditPath returns the consent audit log's path: audit.jsonl beside the
// reply store.
func (c *Config) AuditPath() string {
	return filepath.Join(filepath.Dir(c.CachePath()), audit.FileName)
}
