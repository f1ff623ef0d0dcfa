package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"sort"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/inputs"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// Report is what a dry pass over the inputs found: no vendor call is made.
type Report struct {
	Inputs   []manifest.InputCounts  `json:"inputs"`
	Rows     manifest.RowCounts      `json:"rows"`
	Reasons  []ReasonCount           `json:"reject_reasons"`
	Products map[string]*ProductPlan `json:"products"`
}

// ReasonCount is how many rows one reason rejects, with the first examples.
type ReasonCount struct {
	Reason   string          `json:"reason"`
	Count    int             `json:"count"`
	Examples []RejectExample `json:"examples"` // identity masked
}

// RejectExample is a rejected row, identity masked, as rejects.csv holds it.
type RejectExample struct {
	File   string `json:"file"`
	Row    int    `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
	Name   string `json:"name"`
	IDCard string `json:"id_card"`
	Mobile string `json:"mobile_no"`
}

// ProductPlan is what a product would be asked for.
type ProductPlan struct {
	Rows        int            `json:"rows"`         // valid rows the product may be called for
	Skipped     int            `json:"skipped"`      // valid rows it may not be called for
	SkipReasons map[string]int `json:"skip_reasons"` // why

	// Filled by Plan only:
	Duplicates int     `json:"duplicates,omitempty"` // rows whose applicant appears earlier in the input
	Stored     int     `json:"stored,omitempty"`     // applicants whose reply the store holds, young enough to reuse
	Billable   int     `json:"billable"`             // calls that would be paid
	Cost       float64 `json:"cost"`                 // Billable × products.<CODE>.price
	Seconds    float64 `json:"seconds"`              // Billable at products.<CODE>.rate_per_second; 0 when unlimited
}

// maxExamples is how many examples a report keeps per reason.
const maxExamples = 3

// Validate reads every input row and validates it as Run would, without
// calling the vendor or writing anything, in memory that does not grow with
// the input.
func Validate(ctx context.Context, cfg *config.Config, env Env) (*Report, error) {
	if env.Secret == nil {
		env.Secret = make([]byte, 32) // keys are not shown: any secret will do
		_, _ = rand.Read(env.Secret)
	}
	r, err := newRun(cfg, env)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.inspect(ctx, nil)
}

// Plan is Validate plus what a run would pay: it consults the reply store
// (it fails at once when a run holds it; it checks the store, and repairs
// its index as a run would, but stores nothing) and counts the calls left after
// duplicates and stored replies, their cost and their duration at the
// configured rates. It calls nothing. Its memory grows with the number of
// distinct applicants (16 bytes each, plus map overhead).
func Plan(ctx context.Context, cfg *config.Config, env Env) (*Report, error) {
	r, err := newRun(cfg, env)
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.planOnly = true
	return r.plan(ctx, true)
}

// plan is Plan on a run that has not started; useStore false counts no
// stored reply (as --refresh pays for them again).
func (r *run) plan(ctx context.Context, useStore bool) (*Report, error) {
	cfg, env := r.cfg, r.env
	// A run about to start opens its store here, as it will use it
	// (pruned by cache.retain), and keeps it open; plan alone opens it
	// only if it exists, and counts what cache.retain would remove as
	// billable, without removing it.
	var stored *store.Store
	switch {
	case !useStore:
	case !r.planOnly:
		if err := r.openStore(); err != nil {
			return nil, err
		}
		stored = r.store
	default:
		s, err := store.Open(cfg.CachePath(), store.Options{Secret: env.Secret, MustExist: true})
		switch {
		case errors.Is(err, store.ErrNotFound): // every call would be paid for
		case err != nil:
			return nil, err
		default:
			r.store, stored = s, s // closed with the run
		}
	}
	notBefore := time.Time{}
	if cfg.Cache.ReuseWithin > 0 {
		notBefore = r.env.Now().Add(-cfg.Cache.ReuseWithin)
	}
	if retained := r.env.Now().Add(-cfg.Cache.Retain); cfg.Cache.Retain > 0 && retained.After(notBefore) {
		notBefore = retained
	}
	seen := make([]map[store.Key]struct{}, len(r.prods))
	for i := range seen {
		seen[i] = map[store.Key]struct{}{}
	}
	keyer := newKeyer(env.Secret)
	var keyCheck store.KeyCheck
	if env.Cipher != nil {
		keyCheck = env.Cipher.KeyCheck()
	}
	check := func(it *item, i int, plan *ProductPlan) error {
		p := r.prods[i]
		key := keyer.Key(p.code, it.app.Params(p.catalog.Params))
		if _, dup := seen[i][key]; dup {
			plan.Duplicates++
			return nil
		}
		seen[i][key] = struct{}{}
		if stored != nil {
			reply, found, err := stored.Get(key, notBefore)
			if err != nil {
				return err
			}
			// A reply encrypted with another access key than env.Cipher's
			// (when given) would be paid for again.
			otherKey := keyCheck != (store.KeyCheck{}) && reply.KeyCheck != (store.KeyCheck{}) && reply.KeyCheck != keyCheck
			if found == store.Fresh && !otherKey {
				plan.Stored++
				return nil
			}
		}
		plan.Billable++
		return nil
	}
	rep, err := r.inspect(ctx, check)
	if err != nil {
		return nil, err
	}
	for _, p := range r.prods {
		plan := rep.Products[p.code]
		plan.Cost = float64(plan.Billable) * p.cfg.Price
		if p.cfg.RatePerSecond > 0 {
			plan.Seconds = float64(plan.Billable) / p.cfg.RatePerSecond
		}
	}
	return rep, nil
}

// inspect scans the inputs and reports; check, when not nil, is called for
// every row and product the product may be called for.
func (r *run) inspect(ctx context.Context, check func(it *item, product int, plan *ProductPlan) error) (*Report, error) {
	rep := &Report{Products: map[string]*ProductPlan{}}
	for _, p := range r.prods {
		rep.Products[p.code] = &ProductPlan{SkipReasons: map[string]int{}}
	}
	byReason := map[string]*ReasonCount{}
	reject := func(f *inputs.File, rec sources.Record, app *transform.Applicant, problems []transform.Problem) error {
		rj := r.rejectRecord(f, rec, app, problems)
		rc := byReason[rj.Reason]
		if rc == nil {
			rc = &ReasonCount{Reason: rj.Reason}
			byReason[rj.Reason] = rc
		}
		rc.Count++
		if len(rc.Examples) < maxExamples {
			rc.Examples = append(rc.Examples, RejectExample{File: rj.File, Row: rj.Row, Column: rj.Column, Reason: rj.Reason,
				Name: rj.Name, IDCard: rj.IDCard, Mobile: rj.Mobile})
		}
		return nil
	}
	valid := func(it *item) error {
		for i, p := range r.prods {
			plan := rep.Products[p.code]
			if reply := it.replies[i]; reply.Status == transform.StatusSkipped {
				plan.Skipped++
				plan.SkipReasons[reply.Message]++
				continue
			}
			plan.Rows++
			if check != nil {
				if err := check(it, i, plan); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := r.scan(ctx, reject, valid); err != nil {
		return nil, err
	}
	r.finishCounts()
	rep.Inputs, rep.Rows = r.manifest.Inputs, r.manifest.Rows
	for _, rc := range byReason {
		rep.Reasons = append(rep.Reasons, *rc)
	}
	sort.Slice(rep.Reasons, func(i, j int) bool {
		if rep.Reasons[i].Count != rep.Reasons[j].Count {
			return rep.Reasons[i].Count > rep.Reasons[j].Count
		}
		return rep.Reasons[i].Reason < rep.Reasons[j].Reason
	})
	return rep, nil
}
