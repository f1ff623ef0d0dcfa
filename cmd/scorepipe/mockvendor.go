package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

func newMockVendorCommand(g *globalFlags) *cobra.Command {
	var (
		addr    string
		latency time.Duration
		faults  tianyuantest.Faults
		shapes  tianyuantest.Shapes
		codes   []string
		extra   int
		limits  tianyuantest.Throttle
	)
	cmd := &cobra.Command{
		Use:   "mock-vendor",
		Short: "Serve the fake vendor (same protocol, synthetic data) on a real port",
		Long: `mock-vendor serves a fake of the vendor API that speaks the same protocol and
enforces it (Access-Id, encryption, timestamp, parameters), with deterministic
synthetic replies per applicant. It accepts the credentials in
SCOREPIPE_ACCESS_ID / SCOREPIPE_ACCESS_KEY when set, else prints demo ones.
Point a run at it with SCOREPIPE_ENDPOINT=http://ADDR.

Flags make it answer in any reply shape the vendor's documents allow (COMBTY11
plain or enveloped, data as a JSON string, message and transaction_id absent,
null or numbers, empty factors, failed sub-products, sub-product data as a JSON
string, success as a string or a number, sub-products the catalog does not
list) and inject faults (HTTP errors, codes, bodies no client can read,
oversized bodies, bodies cut off, connections reset, redirects).

--throttle-limit N makes it enforce a rate limit as a vendor does: requests for
a product are counted over a sliding second, throttled ones too, and a request
that finds N already counted is answered HTTP 429 with Retry-After (or HTTP 503,
or a vendor code: --throttle-status, --throttle-code).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if faults.Codes, err = parseCodeShares(codes); err != nil {
				return err
			}
			if err := shapes.Validate(); err != nil {
				return err
			}
			opts := tianyuantest.Options{Latency: latency, Faults: faults, ExtraFields: extra, Shapes: shapes, Throttle: limits}
			if id, key := os.Getenv(envAccessID), os.Getenv(envKey); id != "" || key != "" {
				k, err := tianyuan.ParseKey(key, tianyuan.KeyHex)
				if err != nil {
					return fmt.Errorf("%s: %w", envKey, err)
				}
				opts.AccessID, opts.Key = id, k
			} else {
				fmt.Fprintf(g.stdout, "demo credentials:\n  export %s=%s\n  export %s=%s\n", envAccessID, tianyuantest.DemoAccessID, envKey, tianyuantest.DemoAccessKey)
			}
			if err := faults.Validate(); err != nil {
				return err
			}
			if err := limits.Validate(); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: tianyuantest.New(opts), ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(g.stdout, "fake vendor listening on http://%s\n  export %s=http://%s\n", ln.Addr(), envEndpoint, ln.Addr())
			log.Info("mock-vendor listening", "addr", ln.Addr().String())
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	cmd.Flags().DurationVar(&latency, "latency", 0, "latency added to every reply")
	cmd.Flags().Float64Var(&faults.HTTP503, "fail-503", 0, "share of requests answered HTTP 503")
	cmd.Flags().Float64Var(&faults.HTTP429, "fail-429", 0, "share of requests answered HTTP 429 with Retry-After")
	cmd.Flags().Float64Var(&faults.Garbage, "fail-garbage", 0, "share of requests answered HTTP 200 with an HTML page (not JSON)")
	cmd.Flags().Float64Var(&faults.Code1001, "fail-1001", 0, "share of requests answered with code 1001")
	cmd.Flags().Float64Var(&faults.Stall, "stall", 0, "share of requests that stall for --stall-for")
	cmd.Flags().DurationVar(&faults.StallFor, "stall-for", 30*time.Second, "how long a stalled request stalls")
	cmd.Flags().IntVar(&faults.BalanceAfter, "balance-after", 0, "answer 1007 (insufficient balance) after this many billed replies")
	cmd.Flags().IntVar(&extra, "extra-fields", 0, "factors the catalog does not know, added to every JRZQ9E2A reply")

	// Faults a reply may carry after the call is billed, and redirects.
	cmd.Flags().Float64Var(&faults.Malformed, "fail-malformed", 0, "share of billed requests answered HTTP 200 with valid JSON no client can understand")
	cmd.Flags().StringVar(&faults.MalformedKind, "malformed-kind", "", "which malformed body: "+strings.Join(tianyuantest.MalformedKinds, ", ")+" (default: each in turn)")
	cmd.Flags().Float64Var(&faults.HTTP500Code0, "fail-500-code0", 0, "share of billed requests answered HTTP 500 carrying the code-0 answer")
	cmd.Flags().Float64Var(&faults.Oversized, "fail-oversized", 0, fmt.Sprintf("share of billed requests answered with a body of %d MiB, past the client's cap", tianyuantest.OversizedBody>>20))
	cmd.Flags().Float64Var(&faults.CutBody, "fail-cut-body", 0, "share of billed requests answered HTTP 200 with half of the code-0 answer, then the connection closed")
	cmd.Flags().Float64Var(&faults.Reset, "fail-reset", 0, "share of billed requests whose connection is reset, no reply sent")
	cmd.Flags().StringArrayVar(&codes, "fail-code", nil, "CODE=SHARE: answer this vendor code (e.g. 1004, 2001) to a share of valid requests; repeatable")
	cmd.Flags().StringVar(&faults.CodeMessage, "fail-code-message", "", "the message of --fail-code answers, echoing what was sent: {key}, {KEY}, {access_id}, {id_card}, {id_card_spaced}, {id_card_pct}, {mobile}, {mobile_dashed}, {mobile_spaced} stand for the credentials and the request's parameters")
	cmd.Flags().StringVar(&faults.RedirectTo, "redirect-to", "", "answer every request with a redirect to this URL")
	cmd.Flags().IntVar(&faults.RedirectStatus, "redirect-status", 307, "status of --redirect-to: 301, 302, 303, 307 or 308")

	// Reply shapes the vendor's documents allow.
	cmd.Flags().StringVar(&shapes.Combo, "combty11-shape", tianyuantest.ComboEnvelope, "COMBTY11 answers: envelope (the report encrypted in data) or plain (the report itself, {\"responses\": [...]}, as its documentation reads it)")
	cmd.Flags().BoolVar(&shapes.DataAsString, "data-as-string", false, "data decrypts to a JSON string holding the payload object")
	cmd.Flags().StringVar(&shapes.EnvelopeFields, "envelope-fields", tianyuantest.FieldsStrings, "message and transaction_id sent as strings, absent, null or numbers")
	cmd.Flags().Float64Var(&shapes.AllEmpty, "all-empty", 0, "share of JRZQ9E2A replies in which every factor is empty (still billed)")
	cmd.Flags().Float64Var(&shapes.EmptyFactor, "empty-factor", 0, "share of JRZQ9E2A factors answered empty (missing)")
	cmd.Flags().Float64Var(&shapes.SubFailure, "sub-failure", 0, "share of COMBTY11 sub-products answered success: false")
	cmd.Flags().StringVar(&shapes.Judicial, "judicial-shape", tianyuantest.JudicialEntoutData, "where FLXG0V4B's criminal and civil objects are: entout-data (in entout.data), data (beside sxbzxr) or entout")
	addAnswerShapeFlags(cmd, &shapes)

	// A rate limit, as a vendor enforces it.
	cmd.Flags().IntVar(&limits.Limit, "throttle-limit", 0, "requests per sliding second and product above which requests are throttled (0: no limit)")
	cmd.Flags().StringToIntVar(&limits.Products, "throttle-product-limit", nil, "a limit per product, e.g. COMBTY11=20 (replaces --throttle-limit for it)")
	cmd.Flags().IntVar(&limits.Status, "throttle-status", 429, "HTTP status of a throttled answer (429 or 503)")
	cmd.Flags().DurationVar(&limits.RetryAfter, "throttle-retry-after", 0, "Retry-After of a throttled answer, whole seconds rounded up (0: until the window has room; negative: no header)")
	cmd.Flags().IntVar(&limits.Code, "throttle-code", 0, "answer a throttled request HTTP 200 with this vendor code instead")
	return cmd
}

// addAnswerShapeFlags adds the flags for the shapes of COMBTY11's
// sub-product answers.
func addAnswerShapeFlags(cmd *cobra.Command, shapes *tianyuantest.Shapes) {
	cmd.Flags().BoolVar(&shapes.SubDataAsString, "sub-data-as-string", false, "COMBTY11 sub-products' data sent as a JSON string holding the object")
	cmd.Flags().StringVar(&shapes.SubSuccess, "sub-success", tianyuantest.SuccessBool, "COMBTY11 sub-products' success sent as bool (true/false), string (\"true\"/\"false\"), number (1/0) or digit (\"1\"/\"0\")")
	cmd.Flags().IntVar(&shapes.ExtraSubs, "extra-subs", 0, "answers of sub-products the catalog does not list (ZZZZ0001…) added to every COMBTY11 report")
}

// parseCodeShares reads --fail-code values, CODE=SHARE each.
func parseCodeShares(values []string) (map[int]float64, error) {
	if len(values) == 0 {
		return nil, nil
	}
	codes := make(map[int]float64, len(values))
	for _, v := range values {
		c, p, ok := strings.Cut(v, "=")
		code, err1 := strconv.Atoi(strings.TrimSpace(c))
		share, err2 := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--fail-code %q: want CODE=SHARE, e.g. 2001=0.1", v)
		}
		codes[code] += share
	}
	return codes, nil
}
