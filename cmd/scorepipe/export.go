package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/store"
	"github.com/scorepipe/scorepipe/transform"
)

// exportReplies writes, for every valid input row of cfg that the reply
// store answers for product, one JSON line: the applicant_key, the row's
// values of the passed-through columns named in with (dates as
// "2006-01-02"), and the decrypted payload's fields. It is what a data
// scientist holding the raw replies would start from; the benchmark feeds
// it to other tools. It calls nothing and returns the number of lines
// written.
func exportReplies(ctx context.Context, cfg *config.Config, env pipeline.Env, product string, with []string, w io.Writer) (int, error) {
	stored, err := store.Open(cfg.CachePath(), store.Options{Secret: env.Secret, MustExist: true})
	if err != nil {
		return 0, fmt.Errorf("reply store %s: %w", cfg.CachePath(), err)
	}
	defer stored.Close()
	keys := store.NewKeyer(env.Secret, transform.IsAuthorization)
	bw := bufio.NewWriterSize(w, 1<<16)
	n := 0
	err = pipeline.InputRows(ctx, cfg, env, product, with, func(applicant string, params tianyuan.Params, values map[string]any) error {
		reply, found, err := stored.Get(keys.Key(product, params), time.Time{})
		if err != nil || found != store.Fresh || reply.Code != 0 {
			return err
		}
		payload, err := env.Cipher.Payload(&tianyuan.Reply{Product: reply.Product, Code: reply.Code, Message: reply.Message,
			TransactionID: reply.TransactionID, Data: reply.Data, ReceivedAt: reply.ReceivedAt})
		if err != nil {
			return err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(payload, &fields); err != nil {
			return err
		}
		key, _ := json.Marshal(applicant)
		fields["applicant_key"] = key
		for name, v := range values {
			if d, ok := v.(time.Time); ok {
				v = d.Format(time.DateOnly)
			}
			fields[name], _ = json.Marshal(v)
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
