package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/sinks"
	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// ExportReplies writes, for every valid input row of cfg that the reply
// store answers for product, one JSON line: the applicant_key, the row's
// values of the passed-through columns named in with, and the decrypted
// payload's fields. It is what a data scientist holding the raw replies
// would start from; the benchmark feeds it to other tools. It calls nothing
// and returns the number of lines written.
func ExportReplies(ctx context.Context, cfg *config.Config, env Env, product string, with []string, w io.Writer) (int, error) {
	r, err := newRun(cfg, env)
	if err != nil {
		return 0, err
	}
	defer r.close()
	var p *productRun
	for _, q := range r.prods {
		if q.code == product {
			p = q
		}
	}
	if p == nil {
		return 0, &config.ConfigError{Field: "products", Msg: product + " is not configured"}
	}
	withCols := make(map[int]string, len(with))
	for _, name := range with {
		if _, ok := cfg.Input.Passthrough[name]; !ok {
			return 0, &config.ConfigError{Field: "input.passthrough", Msg: name + " is not passed through"}
		}
		withCols[r.schema.Index(name)] = name
	}
	stored, err := store.Open(cfg.CachePath(), store.Options{Secret: env.Secret, MustExist: true})
	if err != nil {
		return 0, fmt.Errorf("reply store %s: %w", cfg.CachePath(), err)
	}
	defer stored.Close()
	keys := newKeyer(env.Secret)
	bw := bufio.NewWriterSize(w, 1<<16)
	n := 0
	reject := func(*inputFile, sources.Record, *transform.Applicant, []transform.Problem) error { return nil }
	err = r.scan(ctx, reject, func(it *item) error {
		storeKey := keys.Key(p.code, it.app.Params(p.catalog.Params))
		reply, found, err := stored.Get(storeKey, time.Time{})
		if err != nil || found != store.Fresh || reply.Code != 0 {
			return err
		}
		payload, err := env.Cipher.Payload(vendorReply(&reply))
		if err != nil {
			return err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(payload, &fields); err != nil {
			return err
		}
		key, _ := json.Marshal(it.key)
		fields["applicant_key"] = key
		for _, pv := range it.pass {
			if name, ok := withCols[pv.col]; ok {
				fields[name] = passJSON(r.schema[pv.col].Type, pv.v)
			}
		}
		line, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		n++
		bw.Write(line)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// passJSON is a passed-through value as JSON: dates as "2006-01-02".
func passJSON(t sinks.Type, v sinks.Value) json.RawMessage {
	var b []byte
	switch t {
	case sinks.Int64:
		b, _ = json.Marshal(v.I)
	case sinks.Float64:
		b, _ = json.Marshal(v.F)
	case sinks.Date:
		b, _ = json.Marshal(time.Unix(v.I*86400, 0).UTC().Format(time.DateOnly))
	default:
		b, _ = json.Marshal(v.S)
	}
	return b
}
