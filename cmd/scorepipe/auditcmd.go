package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/transform"
)

// auditFlags are the flags of scorepipe audit.
type auditFlags struct {
	config  string
	sets    []string
	logPath string
	idCard  string
	mobile  string
	name    string
	stdin   bool
	run     string
	since   string
	until   string
	asJSON  bool
}

func newAuditCommand(g *globalFlags) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who was queried, when, under which authorization: the consent audit trail",
		Long: `audit lists the queries of the audit log: every request sent to the vendor (with
its authorization reference, transaction id, code, outcome and whether it was
billed) and every stored reply reused, in the order the log holds them (a
request where its result is). Select them by applicant, run and time; the
selections combine.

An applicant is given by ID number, mobile and name (--id-card, --mobile,
--name), or several from standard input (--stdin: a line each, ID number,
mobile and name separated by a comma or a tab; # starts a comment). They are
normalised as a run normalises them and turned into the applicant key with the
identity secret, exactly as the run does: the log holds keys, never an ID
number, mobile or name, and audit never prints one. Prefer --stdin: values on
the command line are seen by other users of the machine (ps) and kept in the
shell's history.

The audit log is audit.jsonl beside the reply store (the state directory, or
beside cache.path): --config finds it as its runs do, --log names it. The
identity secret is SCOREPIPE_IDENTITY_SECRET, else the config's
(identity.secret_file, else identity.secret beside the reply store).

--since and --until take a time (2026-05-04T08:00:00Z, or without an offset in
the local time zone), a date (2026-05-04: the start of that day, local), or a
duration back from now (720h); --until is exclusive. The table is printed as
the log is read, in constant memory; --json prints a JSON object per line
instead. A summary goes to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(g, &f, cmd.InOrStdin())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "job configuration (YAML): its cache.path and identity secret locate the log and the keys")
	fl.StringArrayVar(&f.sets, "set", nil, "override a config value, path=value (repeatable)")
	fl.StringVar(&f.logPath, "log", "", "the audit log (default: audit.jsonl beside the reply store, and the shards' audit.shard-N.jsonl)")
	fl.StringVar(&f.idCard, "id-card", "", "the applicant's ID number (with --mobile and --name)")
	fl.StringVar(&f.mobile, "mobile", "", "the applicant's mobile number")
	fl.StringVar(&f.name, "name", "", "the applicant's name")
	fl.BoolVar(&f.stdin, "stdin", false, "read applicants from standard input: ID number, mobile, name, a line each")
	fl.StringVar(&f.run, "run", "", "the queries of this run (its manifest's run_id)")
	fl.StringVar(&f.since, "since", "", "the queries made at or after this time, date or duration ago")
	fl.StringVar(&f.until, "until", "", "the queries made before this time, date or duration ago")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON object per query (JSON Lines)")
	return cmd
}

func runAudit(g *globalFlags, f *auditFlags, stdin io.Reader) error {
	cfg := config.DefaultConfig()
	if f.config != "" {
		c, err := config.LoadConfig(f.config, f.sets...)
		if err != nil {
			return err
		}
		cfg = c
	} else if len(f.sets) > 0 {
		return &config.ConfigError{Field: "--set", Msg: "needs --config"}
	}
	var filter audit.Filter
	now := time.Now()
	var err error
	if filter.Since, err = parseWhen(f.since, now); err != nil {
		return &config.ConfigError{Field: "--since", Msg: err.Error()}
	}
	if filter.Until, err = parseWhen(f.until, now); err != nil {
		return &config.ConfigError{Field: "--until", Msg: err.Error()}
	}
	filter.RunID = strings.TrimSpace(f.run)

	applicants, err := f.applicants(stdin, now)
	if err != nil {
		return err
	}
	if len(applicants) > 0 {
		secret, err := auditSecret(cfg)
		if err != nil {
			return err
		}
		keyer, err := transform.NewKeyer(secret)
		if err != nil {
			return &config.ConfigError{Field: "identity secret", Msg: err.Error()}
		}
		for i := range applicants {
			filter.ApplicantKeys = append(filter.ApplicantKeys, keyer.Key(&applicants[i]))
		}
		if len(applicants) == 1 {
			fmt.Fprintf(g.stderr, "applicant key %s\n", filter.ApplicantKeys[0])
		}
	}

	paths := []string{f.logPath}
	if f.logPath == "" {
		paths = withShardLogs(cfg.AuditPath())
	}

	out := bufio.NewWriterSize(g.stdout, 64<<10)
	var emit func(*audit.Query) error
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		emit = func(q *audit.Query) error { return enc.Encode(q) }
	} else {
		header := false
		emit = func(q *audit.Query) error {
			if !header {
				header = true
				writeAuditRow(out, "TIME", "RUN", "PRODUCT", "APPLICANT", "SOURCE", "OUTCOME", "CODE", "BILLED", "TRANSACTION", "AUTHORIZATION")
			}
			code := "-"
			if q.Code != nil {
				code = strconv.Itoa(*q.Code)
			}
			txn := q.TransactionID
			if txn == "" {
				txn = "-"
			}
			writeAuditRow(out, q.Time.UTC().Format("2006-01-02T15:04:05.000Z"), q.RunID, q.Product, q.ApplicantKey, q.Source,
				q.Outcome, code, q.Billed, txn, authorizationText(q))
			return nil
		}
	}
	for i, path := range paths {
		in, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) && i == 0 && len(paths) == 1 {
			return &config.ConfigError{Field: "--log", Msg: fmt.Sprintf("no audit log at %s: no run has written one there (--config or --log name another)", path)}
		}
		if errors.Is(err, os.ErrNotExist) {
			continue // no whole run wrote one; the shards' are read
		}
		if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		st, err := audit.Scan(in, filter, emit)
		in.Close()
		if ferr := out.Flush(); err == nil && ferr != nil {
			err = ferr
		}
		if err != nil {
			return fmt.Errorf("audit log %s: %w", path, err)
		}
		fmt.Fprintln(g.stderr, auditSummary(path, st))
	}
	return nil
}

// writeAuditRow writes a row of the table in fixed-width columns, so that
// it can be printed as it is read; the last two columns are as wide as
// they are.
func writeAuditRow(w io.Writer, cells ...string) {
	widths := []int{24, 36, 8, 32, 6, 9, 5, 8, 26}
	var b strings.Builder
	for i, c := range cells {
		c = printable(c)
		if i < len(widths) {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", max(1, widths[i]-len(c)+2)))
			continue
		}
		b.WriteString(c)
		b.WriteByte(' ')
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
}

// printable replaces what would upset a terminal: control characters.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}

// authorizationText is a query's authorization reference, name=value.
func authorizationText(q *audit.Query) string {
	var parts []string
	for _, p := range []struct{ name, value string }{
		{transform.ParamAuthCode, q.AuthCode}, {transform.ParamAuthURL, q.AuthURL}, {transform.ParamAuthDate, q.AuthDate},
	} {
		if p.value != "" {
			parts = append(parts, p.name+"="+p.value)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// auditSummary says what the scan found.
func auditSummary(path string, st audit.Stats) string {
	var b strings.Builder
	if st.Queries == 0 {
		fmt.Fprintf(&b, "no query found in the audit log %s (%s lines)", path, thousands((st.Lines)))
	} else {
		fmt.Fprintf(&b, "%s queries in the audit log %s: %s requests sent to the vendor (%s billed, %s possibly billed), %s replies reused",
			thousands((st.Queries)), path, thousands((st.Requests)), thousands((st.Billed)), thousands((st.PossiblyBilled)),
			thousands((st.Reuses)))
	}
	if st.Damaged > 0 {
		fmt.Fprintf(&b, "; %s damaged lines could not be read and were skipped", thousands((st.Damaged)))
	}
	return b.String()
}

// applicants returns the applicants asked for, normalised as a run
// normalises them; none when no applicant was given.
func (f *auditFlags) applicants(stdin io.Reader, now time.Time) ([]transform.Applicant, error) {
	given := f.idCard != "" || f.mobile != "" || f.name != ""
	switch {
	case given && f.stdin:
		return nil, &config.ConfigError{Field: "--stdin", Msg: "give the applicant by --id-card, --mobile and --name, or on standard input, not both"}
	case given:
		var missing []string
		for _, m := range []struct{ flag, value string }{{"--id-card", f.idCard}, {"--mobile", f.mobile}, {"--name", f.name}} {
			if m.value == "" {
				missing = append(missing, m.flag)
			}
		}
		if len(missing) > 0 {
			return nil, &config.ConfigError{Field: strings.Join(missing, ", "),
				Msg: "an applicant's key is made of the ID number, mobile and name: give all three"}
		}
		a, err := normalizeApplicant(f.idCard, f.mobile, f.name, now)
		if err != nil {
			return nil, &config.ConfigError{Msg: "the applicant given: " + err.Error()}
		}
		return []transform.Applicant{a}, nil
	case f.stdin:
		return readApplicants(stdin, now)
	}
	return nil, nil
}

// readApplicants reads applicants from r: a line each, ID number, mobile
// and name separated by a comma or a tab; blank lines and lines starting
// with # are skipped. Errors name the line and the field, never its value.
func readApplicants(r io.Reader, now time.Time) ([]transform.Applicant, error) {
	var out []transform.Applicant
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sep := ","
		if strings.Contains(line, "\t") {
			sep = "\t"
		}
		fields := strings.Split(line, sep)
		if len(fields) != 3 {
			return nil, &config.ConfigError{Field: "--stdin", Msg: fmt.Sprintf(
				"line %d: %d fields, want 3 (ID number, mobile, name; separated by a comma or a tab)", n, len(fields))}
		}
		a, err := normalizeApplicant(fields[0], fields[1], fields[2], now)
		if err != nil {
			return nil, &config.ConfigError{Field: "--stdin", Msg: fmt.Sprintf("line %d: %v", n, err)}
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, &config.ConfigError{Field: "--stdin", Msg: fmt.Sprintf("line %d: %v", n+1, err)}
	}
	if len(out) == 0 {
		return nil, &config.ConfigError{Field: "--stdin", Msg: "no applicant read from standard input"}
	}
	return out, nil
}

// normalizeApplicant normalises an identity as a run does, or says which
// field is wrong and why (never with its value).
func normalizeApplicant(idCard, mobile, name string, now time.Time) (transform.Applicant, error) {
	a, problems := transform.Normalize(transform.Applicant{IDCard: idCard, Mobile: mobile, Name: name}, now)
	if len(problems) > 0 {
		var msgs []string
		for _, p := range problems {
			msgs = append(msgs, p.Column+": "+p.Reason)
		}
		return a, errors.New(strings.Join(msgs, "; "))
	}
	return a, nil
}

// auditSecret returns the identity secret the applicant keys are made
// with: it must exist (a new one would find nobody).
func auditSecret(cfg *config.Config) ([]byte, error) {
	if s := os.Getenv(envSecret); s != "" {
		if len(s) < transform.MinSecretLen {
			return nil, &config.ConfigError{Field: envSecret, Msg: fmt.Sprintf("at least %d characters", transform.MinSecretLen)}
		}
		return []byte(s), nil
	}
	path := cfg.SecretPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, &config.ConfigError{Field: "identity.secret_file", Msg: fmt.Sprintf(
			"no identity secret at %s: the audit log's applicant keys are made with the secret of the runs that wrote it; "+
				"set %s, or give the runs' config with --config", path, envSecret)}
	}
	secret, err := config.LoadSecret(path)
	if err != nil {
		return nil, &config.ConfigError{Field: "identity.secret_file", Msg: err.Error()}
	}
	return secret, nil
}

// parseWhen reads a --since or --until value: empty, a time (RFC 3339, or
// without an offset in the local time zone), a date (its start, local) or
// a duration back from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-05-04T08:00:00Z), a date (2026-05-04) or a duration (720h)", s)
}

// auditExitCode maps the audit log's failures to exit codes as the reply
// store's: another process has it (a store prune), or it cannot be
// written: exit 3, nothing was sent that is not recorded; rerun once fixed.
func auditExitCode(err error) (int, bool) {
	var (
		inUse *audit.InUseError
		write *audit.WriteError
	)
	if errors.As(err, &inUse) || errors.As(err, &write) {
		return exitAborted, true
	}
	return 0, false
}
