package pipeline

import (
	"context"
	"crypto/rand"
	"sort"

	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// Report is what a dry pass over the inputs found: no vendor call is made.
type Report struct {
	Inputs   []InputCounts           `json:"inputs"`
	Rows     RowCounts               `json:"rows"`
	Reasons  []ReasonCount           `json:"reject_reasons"`
	Products map[string]*ProductPlan `json:"products"`
}

// ReasonCount is how many rows one reason rejects, with the first examples.
type ReasonCount struct {
	Reason   string         `json:"reason"`
	Count    int            `json:"count"`
	Examples []sinks.Reject `json:"examples"` // identity masked
}

// ProductPlan is what a product would be asked for.
type ProductPlan struct {
	Rows        int            `json:"rows"`         // valid rows the product may be called for
	Skipped     int            `json:"skipped"`      // valid rows it may not be called for
	SkipReasons map[string]int `json:"skip_reasons"` // why
}

// maxExamples is how many examples a report keeps per reason.
const maxExamples = 3

// Validate reads every input row and validates it as Run would, without
// calling the vendor or writing anything, in memory that does not grow with
// the input.
func Validate(ctx context.Context, cfg *Config, env Env) (*Report, error) {
	if env.Secret == nil {
		env.Secret = make([]byte, 32) // keys are not shown: any secret will do
		_, _ = rand.Read(env.Secret)
	}
	r, err := newRun(cfg, env)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rep := &Report{Products: map[string]*ProductPlan{}}
	for _, p := range r.prods {
		rep.Products[p.code] = &ProductPlan{SkipReasons: map[string]int{}}
	}
	byReason := map[string]*ReasonCount{}
	reject := func(f *inputFile, rec sources.Record, app *transform.Applicant, problems []transform.Problem) error {
		rj := r.rejectRecord(f, rec, app, problems)
		rc := byReason[rj.Reason]
		if rc == nil {
			rc = &ReasonCount{Reason: rj.Reason}
			byReason[rj.Reason] = rc
		}
		rc.Count++
		if len(rc.Examples) < maxExamples {
			rc.Examples = append(rc.Examples, rj)
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
