package pipeline

import (
	"context"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/inputs"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// InputRows reads every valid input row of cfg as a run would and hands
// each, in input order, to fn: its applicant key, its request parameters
// for product, and its values of the passed-through columns named in with
// (a string, an int64, a float64, or a date as a time.Time at midnight
// UTC). It calls nothing and writes nothing.
func InputRows(ctx context.Context, cfg *config.Config, env Env, product string, with []string,
	fn func(key string, params tianyuan.Params, values map[string]any) error) error {
	r, err := newRun(cfg, env)
	if err != nil {
		return err
	}
	defer r.close()
	var p *productRun
	for _, q := range r.prods {
		if q.code == product {
			p = q
		}
	}
	if p == nil {
		return &config.ConfigError{Field: "products", Msg: product + " is not configured"}
	}
	withCols := make(map[int]string, len(with))
	for _, name := range with {
		if _, ok := cfg.Input.Passthrough[name]; !ok {
			return &config.ConfigError{Field: "input.passthrough", Msg: name + " is not passed through"}
		}
		withCols[r.schema.Index(name)] = name
	}
	reject := func(*inputs.File, sources.Record, *transform.Applicant, []transform.Problem) error { return nil }
	return r.scan(ctx, reject, func(it *item) error {
		values := make(map[string]any, len(withCols))
		for _, pv := range it.pass {
			if name, ok := withCols[pv.Col]; ok {
				values[name] = plainValue(r.schema[pv.Col].Type, pv.V)
			}
		}
		return fn(it.key, it.app.Params(p.catalog.Params), values)
	})
}

// plainValue is a passed-through value as a plain Go value.
func plainValue(t sinks.Type, v sinks.Value) any {
	switch t {
	case sinks.Int64:
		return v.I
	case sinks.Float64:
		return v.F
	case sinks.Date:
		return time.Unix(v.I*86400, 0).UTC()
	}
	return v.S
}

// checkRequired refuses an input file without a column a configured
// product takes (see inputs.CheckRequired): before any row is read, as
// validate, plan and run all do.
func (r *run) checkRequired() error {
	needs := make(map[string][]string, len(r.prods))
	for _, p := range r.prods {
		needs[p.code] = p.catalog.Params
	}
	return inputs.CheckRequired(r.files, needs, r.cfg.Input.Columns)
}
