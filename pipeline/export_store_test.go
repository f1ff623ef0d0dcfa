package pipeline

import (
	"context"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/inputs"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// ForgetKeyChecks stores again, without the check of the key its data is
// encrypted with, every reply the store holds for cfg's valid input rows:
// as the store's first format kept them. It returns how many.
func ForgetKeyChecks(cfg *config.Config, env Env) (int, error) {
	r, err := newRun(cfg, env)
	if err != nil {
		return 0, err
	}
	defer r.close()
	s, err := store.Open(cfg.CachePath(), store.Options{Secret: env.Secret})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	keys := newKeyer(env.Secret)
	n := 0
	reject := func(*inputs.File, sources.Record, *transform.Applicant, []transform.Problem) error { return nil }
	err = r.scan(context.Background(), reject, func(it *item) error {
		for i, p := range r.prods {
			if it.replies[i].Status == transform.StatusSkipped {
				continue
			}
			key := keys.Key(p.code, it.app.Params(p.catalog.Params))
			reply, found, err := s.Get(key, time.Time{})
			if err != nil {
				return err
			}
			if found == store.Fresh && reply.KeyCheck != (store.KeyCheck{}) {
				reply.KeyCheck = store.KeyCheck{}
				if err := s.Put(key, &reply); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}
