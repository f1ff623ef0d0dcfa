package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/scorepipe/scorepipe/audit"
	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/store"
)

// storeFlags locate the reply store: --cache, or the config's, or the
// state directory's.
type storeFlags struct {
	config string
	sets   []string
	cache  string
	asJSON bool
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&f.config, "config", "c", "", "job configuration (YAML): its cache.path and cache.retain")
	cmd.PersistentFlags().StringArrayVar(&f.sets, "set", nil, "override a config value, path=value (repeatable)")
	cmd.PersistentFlags().StringVar(&f.cache, "cache", "", "reply store path (default: the config's, else replies.db in the state directory)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print the report as JSON")
}

// locate returns the store's path and the config, when one was given.
func (f *storeFlags) locate() (string, *config.Config, error) {
	var cfg *config.Config
	if f.config != "" {
		c, err := config.LoadConfig(f.config, f.sets...)
		if err != nil {
			return "", nil, err
		}
		cfg = c
	}
	switch {
	case f.cache != "":
		return f.cache, cfg, nil
	case cfg != nil:
		return cfg.CachePath(), cfg, nil
	}
	dir, err := config.StateDir()
	if err != nil {
		return "", nil, &config.ConfigError{Field: "--cache", Msg: err.Error()}
	}
	return filepath.Join(dir, "replies.db"), nil, nil
}

// open opens the store for a command: it must exist, and no identity
// secret is checked (no reply is looked up by key).
func (f *storeFlags) open(opts store.Options) (*store.Store, *config.Config, error) {
	path, cfg, err := f.locate()
	if err != nil {
		return nil, nil, err
	}
	opts.MustExist = true
	s, err := store.Open(path, opts)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("no reply store at %s", path)
	}
	return s, cfg, err
}

func newStoreCommand(g *globalFlags) *cobra.Command {
	var f storeFlags
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Look after the reply store: check, repair, stats, prune",
		Long: `The reply store keeps every paid vendor reply (encrypted as received) so that
no reply is paid for twice. It lives in the state directory ($SCOREPIPE_STATE_DIR,
else $XDG_STATE_HOME/scorepipe, else ~/.local/state/scorepipe) unless cache.path
says otherwise. Every run checks it at start and repairs what it can; these
commands report and repair on demand. Each fails at once while a run has the
store open.`,
	}
	f.register(cmd)
	cmd.AddCommand(newStoreCheckCommand(g, &f), newStoreRepairCommand(g, &f), newStoreStatsCommand(g, &f), newStorePruneCommand(g, &f))
	return cmd
}

// storeDamaged is check's verdict when it found damage. An index to
// rebuild while the log holds every reply whole is said so: nothing is
// paid for again.
type storeDamaged struct {
	path     string
	indexOff string // what is wrong with the index, when nothing else is
}

func (e *storeDamaged) Error() string {
	if e.indexOff != "" {
		return fmt.Sprintf("the reply store %s needs its index rebuilt (%s); its log holds every reply whole: scorepipe store repair, "+
			"or the next run, rebuilds it and no reply is paid for again", e.path, e.indexOff)
	}
	return fmt.Sprintf("the reply store %s is damaged: scorepipe store repair rebuilds its index and drops the damaged records "+
		"(their replies are paid for again when asked for)", e.path)
}

func newStoreCheckCommand(g *globalFlags, f *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Read the whole store and report: replies, damaged records, the index, ages; change nothing",
		Long: `check reads the store's index and every record of its log, and reports the
replies, those whose record is damaged (each would be paid for again), damaged
stretches of the log, the state of the index, and the replies' ages. It changes
nothing. It exits 2 when it finds damage (scorepipe store repair fixes what can
be fixed), 0 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, _, err := f.locate()
			if err != nil {
				return err
			}
			rep, err := store.Check(path, time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no reply store at %s", path)
			}
			if err != nil {
				return err
			}
			if f.asJSON {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				printCheck(g.stdout, rep)
			}
			if !rep.Healthy() {
				d := &storeDamaged{path: path}
				if rep.Rebuild && rep.DamagedStretches == 0 && rep.LostWithIndex == 0 {
					d.indexOff = rep.Index
				}
				return d
			}
			return nil
		},
	}
}

func newStoreRepairCommand(g *globalFlags, f *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "repair",
		Short: "Rebuild the index from the log and rewrite the log without damaged or dead records",
		Long: `repair rebuilds the store's index from its log (every run does when its check
at start finds the index missing, damaged or out of step), then compacts the log:
it rewrites it with the replies the index holds, in the current format, leaving
out damaged records, replaced replies and pruned room. A damaged index is moved
aside (replies.db.damaged-<time>). It needs room for a copy of the live replies.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			s, _, err := f.open(store.Options{Rebuild: true})
			if err != nil {
				return err
			}
			defer s.Close()
			opened := s.Report()
			comp, err := s.Compact()
			if err != nil {
				return err
			}
			out := struct {
				Path    string              `json:"path"`
				Rebuilt store.OpenReport    `json:"rebuilt"`
				Compact store.CompactReport `json:"compacted"`
			}{s.Path(), opened, comp}
			if f.asJSON {
				return writeJSON(g.stdout, out)
			}
			fmt.Fprintf(g.stdout, "reply store %s: index rebuilt from the log, %s replies", s.Path(), thousands(comp.Replies))
			if opened.Lost > 0 {
				fmt.Fprintf(g.stdout, " (%s lost: their records are damaged or gone, or of the first format without the old index)", thousands(opened.Lost))
			}
			if opened.Damaged > 0 {
				fmt.Fprintf(g.stdout, "; %s damaged stretches of the log dropped", thousands(opened.Damaged))
			}
			if opened.MovedAside != "" {
				fmt.Fprintf(g.stdout, "; the damaged index was moved to %s", opened.MovedAside)
			}
			fmt.Fprintf(g.stdout, "\nlog compacted: %s → %s bytes\n", thousands(int(comp.BytesBefore)), thousands(int(comp.BytesAfter)))
			return nil
		},
	}
}

func newStoreStatsCommand(g *globalFlags, f *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Print how many replies the store holds, their ages and its size",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			s, _, err := f.open(store.Options{})
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := s.Stats(time.Now())
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSON(g.stdout, st)
			}
			fmt.Fprintf(g.stdout, "reply store %s\nreplies: %s\nsize:    index %s bytes, log %s bytes\n", st.Path, thousands(st.Replies),
				thousands(int(st.IndexBytes)), thousands(int(st.LogBytes)))
			printAges(g.stdout, st.Ages)
			return nil
		},
	}
}

func newStorePruneCommand(g *globalFlags, f *storeFlags) *cobra.Command {
	var retain time.Duration
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove replies older than cache.retain (or --retain) and compact the log",
		Long: `prune removes the replies received longer ago than --retain, or the config's
cache.retain (runs do the same at start), then compacts the log, giving back the
room of pruned, replaced and damaged records. A pruned reply is paid for again
when a run asks for it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, cfg, err := f.locate()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("retain") && cfg != nil {
				retain = cfg.Cache.Retain
			}
			if retain < 0 {
				return &config.ConfigError{Field: "--retain", Msg: "must be ≥ 0"}
			}
			opts := store.Options{MustExist: true}
			var cut time.Time
			if retain > 0 {
				cut = time.Now().Add(-retain)
				opts.PruneBefore = cut
			}
			s, err := store.Open(path, opts)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no reply store at %s", path)
			}
			if err != nil {
				return err
			}
			defer s.Close()
			// The audit log beside the store keeps its lines as long.
			auditPath := filepath.Join(filepath.Dir(s.Path()), audit.FileName)
			auditPruned := 0
			if retain > 0 {
				if auditPruned, err = audit.PruneFile(auditPath, cut); err != nil {
					return err
				}
			}
			comp, err := s.Compact()
			if err != nil {
				return err
			}
			out := struct {
				Path        string              `json:"path"`
				Retain      string              `json:"retain"`
				Pruned      int                 `json:"pruned"`
				Compact     store.CompactReport `json:"compacted"`
				AuditLog    string              `json:"audit_log"`
				AuditPruned int                 `json:"audit_pruned"` // audit lines written before the cutoff, removed
			}{s.Path(), retain.String(), s.Report().Pruned, comp, auditPath, auditPruned}
			if f.asJSON {
				return writeJSON(g.stdout, out)
			}
			if retain > 0 {
				fmt.Fprintf(g.stdout, "reply store %s: %s replies received before %s removed (cache.retain %s); %s kept\n",
					s.Path(), thousands(out.Pruned), cut.UTC().Format(time.RFC3339), retain, thousands(comp.Replies))
				fmt.Fprintf(g.stdout, "audit log %s: %s lines written before %s removed\n", auditPath, thousands(auditPruned),
					cut.UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintf(g.stdout, "reply store %s: no retention set (cache.retain or --retain): nothing removed; %s replies kept\n",
					s.Path(), thousands(comp.Replies))
			}
			fmt.Fprintf(g.stdout, "log compacted: %s → %s bytes\n", thousands(int(comp.BytesBefore)), thousands(int(comp.BytesAfter)))
			return nil
		},
	}
	cmd.Flags().DurationVar(&retain, "retain", 0, "remove replies older than this (e.g. 2160h), instead of the config's cache.retain")
	return cmd
}

func printCheck(w io.Writer, r *store.CheckReport) {
	fmt.Fprintf(w, "reply store %s\n", r.Path)
	if r.Rebuild {
		printRebuildCheck(w, r)
		return
	}
	fmt.Fprintf(w, "index:    %s; %s replies (%s bytes)\n", r.Index, thousands(r.Replies), thousands(int(r.IndexBytes)))
	fmt.Fprintf(w, "log:      %s bytes; %s whole replies, %s damaged (paid for again when asked for), %s damaged stretches (%s bytes), %s not yet indexed, %s bytes dead\n",
		thousands(int(r.LogBytes)), thousands(r.Whole), thousands(r.DamagedReplies), thousands(r.DamagedStretches),
		thousands(int(r.DamagedBytes)), thousands(r.Unindexed), thousands(int(r.DeadBytes)))
	printAges(w, r.Ages)
	if r.Healthy() {
		fmt.Fprintln(w, "verdict:  healthy")
	} else {
		fmt.Fprintln(w, "verdict:  damaged: scorepipe store repair")
	}
}

// printRebuildCheck writes the report of a store whose index the next
// open rebuilds: what the log holds, which a run finds once it has.
func printRebuildCheck(w io.Writer, r *store.CheckReport) {
	fmt.Fprintf(w, "index:    %s (%s bytes, %s replies in it): the next run, or scorepipe store repair, rebuilds it from the log\n",
		r.Index, thousands(int(r.IndexBytes)), thousands(r.Replies))
	fmt.Fprintf(w, "log:      %s bytes; %s whole replies, which a run finds once the index is rebuilt and does not pay for again; %s damaged stretches (%s bytes), %s bytes dead\n",
		thousands(int(r.LogBytes)), thousands(r.LogReplies), thousands(r.DamagedStretches), thousands(int(r.DamagedBytes)), thousands(int(r.DeadBytes)))
	if r.LostWithIndex > 0 {
		fmt.Fprintf(w, "lost:     %s replies the log does not hold whole (the index alone located them): paid for again when asked for\n", thousands(r.LostWithIndex))
	}
	printAges(w, r.Ages)
	if r.DamagedStretches == 0 && r.LostWithIndex == 0 {
		fmt.Fprintln(w, "verdict:  the index is to be rebuilt; no reply is lost: scorepipe store repair (or the next run) rebuilds it")
	} else {
		fmt.Fprintln(w, "verdict:  damaged: scorepipe store repair")
	}
}

func printAges(w io.Writer, a store.Ages) {
	if a.Oldest.IsZero() {
		fmt.Fprintln(w, "ages:     no replies")
		return
	}
	fmt.Fprintf(w, "ages:     oldest %s, newest %s; up to 1 day %s, 7 days %s, 30 days %s, 90 days %s, a year %s, older %s\n",
		a.Oldest.Format(time.DateTime), a.Newest.Format(time.DateTime), thousands(a.Day), thousands(a.Week), thousands(a.Month),
		thousands(a.Quarter), thousands(a.Year), thousands(a.Older))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// thousands writes n with thousands separators: 3,912.
func thousands[N int | int64](n N) string { return englishNumbers.Sprintf("%d", n) }

var englishNumbers = message.NewPrinter(language.English)

// storeExitCode maps the reply store's errors to exit codes: a store in
// use by another run, or one that could not write (a full disk), is 3, as
// an aborted run: rerun once the other run is done or space is freed; a
// store file that is unusable, or of another identity secret, is 1;
// damage found by store check is 2.
func storeExitCode(err error) (int, bool) {
	var (
		inUse   *store.InUseError
		write   *store.WriteError
		corrupt *store.CorruptError
		secret  *store.SecretError
		damaged *storeDamaged
	)
	switch {
	case errors.As(err, &inUse), errors.As(err, &write):
		return exitAborted, true
	case errors.As(err, &corrupt), errors.As(err, &secret):
		return exitUsage, true
	case errors.As(err, &damaged):
		return exitRows, true
	}
	return 0, false
}
