package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/xuri/excelize/v2"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/publish"
)

// TestMain runs a child run when the kill tests ask for one.
func TestMain(m *testing.M) {
	if os.Getenv("PIPELINE_TEST_CHILD") != "" {
		os.Exit(childRun())
	}
	os.Exit(withTestState(m.Run))
}

// childRun runs the sample config on PIPELINE_TEST_INPUT into
// PIPELINE_TEST_OUT with PIPELINE_TEST_FORMATS, against an in-process fake
// vendor, killing itself at publishing step PIPELINE_TEST_KILL_AT.
func childRun() int {
	cfg, err := config.LoadConfig("../samples/pipeline.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.Input.Files = []string{os.Getenv("PIPELINE_TEST_INPUT")}
	cfg.Output.Dir = os.Getenv("PIPELINE_TEST_OUT")
	cfg.Output.Formats = strings.Split(os.Getenv("PIPELINE_TEST_FORMATS"), ",")
	for code, p := range cfg.Products {
		p.RatePerSecond = 0
		cfg.Products[code] = p
	}
	killAt := os.Getenv("PIPELINE_TEST_KILL_AT")
	defer pipeline.SetPublishFault(func(step string) error {
		if step == killAt {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	})()
	srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
	defer srv.Close()
	c, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: srv.URL, AccessID: tianyuantest.DemoAccessID, Key: tianyuantest.DemoKey()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := pipeline.Run(context.Background(), cfg, env(c)); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// outputSet is what a published folder holds, as read from its files.
type outputSet struct {
	written  int
	rejected int
	formats  []string // data files present, sorted
}

// readSet reads the set in out and fails unless it is whole: _SUCCESS
// over a manifest whose counts every file agrees with, and no file the
// manifest does not list.
func readSet(t *testing.T, out string) outputSet {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, pipeline.FileSuccess)); err != nil {
		t.Fatalf("no _SUCCESS: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(out, pipeline.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	set := outputSet{written: m.Rows.Written, rejected: m.Rows.Rejected}
	listed := map[string]int{}
	for _, o := range m.Outputs {
		listed[o.Name] = o.Rows
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		switch name {
		case pipeline.FileSuccess, pipeline.FileManifest, pipeline.FileMetrics, ".scorepipe":
			continue
		}
		want, ok := listed[name]
		if !ok {
			t.Errorf("%s is not in the manifest's outputs %v", name, listed)
			continue
		}
		var got int
		switch name {
		case pipeline.FileParquet:
			got = int(readParquet(t, filepath.Join(out, name)).NumRows())
		case pipeline.FileXLSX:
			x, err := excelize.OpenFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			rows, err := x.GetRows("features")
			x.Close()
			if err != nil {
				t.Fatal(err)
			}
			got = len(rows) - 1
		case pipeline.FileCSV, pipeline.FileRejects:
			_, rows := readCSV(t, filepath.Join(out, name))
			got = len(rows)
		}
		if got != want {
			t.Errorf("%s holds %d rows, the manifest says %d", name, got, want)
		}
		if name != pipeline.FileRejects {
			set.formats = append(set.formats, name)
			if got != m.Rows.Written {
				t.Errorf("%s holds %d rows, the manifest wrote %d", name, got, m.Rows.Written)
			}
		} else if got != m.Rows.Rejected {
			t.Errorf("rejects.csv holds %d rows, the manifest rejected %d", got, m.Rows.Rejected)
		}
	}
	for name := range listed {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("the manifest lists %s: %v", name, err)
		}
	}
	slices.Sort(set.formats)
	return set
}

// leftBehind lists what runs left: anything beside the output folder,
// and hidden entries inside it but the state folder.
func leftBehind(t *testing.T, out string) []string {
	t.Helper()
	var left []string
	beside, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range beside {
		if e.Name() != filepath.Base(out) {
			left = append(left, e.Name())
		}
	}
	inside, _ := os.ReadDir(out)
	for _, e := range inside {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".scorepipe" {
			left = append(left, filepath.Join(filepath.Base(out), e.Name()))
		}
	}
	return left
}

// twoInputs writes the sample applicants and the first 40 of them.
func twoInputs(t *testing.T) (all, some string) {
	t.Helper()
	rows := cleanSampleRows(t)
	dir := t.TempDir()
	all, some = filepath.Join(dir, "all.csv"), filepath.Join(dir, "some.csv")
	writeDelimited(t, all, rows, ',', false, false)
	writeDelimited(t, some, rows[:41], ',', false, false)
	return all, some
}

func runInto(t *testing.T, client *tianyuan.Client, out, input string, formats ...string) (*manifest.Manifest, error) {
	t.Helper()
	cfg := sampleConfig(t)
	cfg.Output.Dir = out
	cfg.Input.Files = []string{input}
	cfg.Output.Formats = formats
	m, err := pipeline.Run(context.Background(), cfg, env(client))
	return m, sampleComplete(err)
}

var (
	allFormats = []string{config.FormatParquet, config.FormatXLSX, config.FormatCSV}
	twoFormats = []string{config.FormatParquet, config.FormatCSV}
)

// publishSteps are the steps of publishing a parquet+csv run, in order.
var publishSteps = []string{
	pipeline.StepWrite + pipeline.FileParquet, pipeline.StepWrite + pipeline.FileCSV,
	pipeline.StepWrite + pipeline.FileRejects, pipeline.StepWrite + pipeline.FileManifest,
	publish.StepCarry, publish.StepMarker, publish.StepSync, publish.StepSwap, publish.StepRemoveOld,
}

func TestPublishFailureAtEachStepKeepsTheOldSet(t *testing.T) {
	all, some := twoInputs(t)
	_, client := fakeVendor(t, tianyuantest.Options{})
	for _, step := range publishSteps {
		t.Run(step, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			if _, err := runInto(t, client, out, all, allFormats...); err != nil {
				t.Fatal(err)
			}
			old := readSet(t, out)
			var seen []string
			undo := pipeline.SetPublishFault(func(s string) error {
				seen = append(seen, s)
				if s == step {
					return errors.New("injected fault")
				}
				return nil
			})
			_, err := runInto(t, client, out, some, twoFormats...)
			undo()
			if !slices.Contains(seen, step) {
				t.Fatalf("step %q never reached; steps: %q", step, seen)
			}
			if step == publish.StepRemoveOld {
				// The swap is done: the run succeeded; the old set is
				// removed by the next run.
				if err != nil {
					t.Fatalf("Run = %v, want nil after the swap", err)
				}
				if got := readSet(t, out); got.written >= old.written || !slices.Equal(got.formats, []string{pipeline.FileCSV, pipeline.FileParquet}) {
					t.Errorf("set after the swap: %+v, want the new run's", got)
				}
			} else {
				var abort *pipeline.AbortError
				var pe *pipeline.PublishError
				if !errors.As(err, &abort) || !errors.As(err, &pe) {
					t.Fatalf("Run = %v, want an *AbortError for a *PublishError", err)
				}
				if !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "injected fault") {
					t.Errorf("error %q does not name the folder and the cause", err)
				}
				if got := readSet(t, out); !reflectEqual(got, old) {
					t.Errorf("after a failure at %s the folder holds %+v, want the old set %+v", step, got, old)
				}
			}
			// The next run removes what the failed one left, and
			// publishes whole.
			if _, err := runInto(t, client, out, some, twoFormats...); err != nil {
				t.Fatal(err)
			}
			if left := leftBehind(t, out); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			got := readSet(t, out)
			if !slices.Equal(got.formats, []string{pipeline.FileCSV, pipeline.FileParquet}) {
				t.Errorf("formats %v, want features.xlsx of the earlier run removed", got.formats)
			}
		})
	}
}

func reflectEqual(a, b outputSet) bool {
	return a.written == b.written && a.rejected == b.rejected && slices.Equal(a.formats, b.formats)
}

func TestKillWhilePublishing(t *testing.T) {
	all, some := twoInputs(t)
	_, client := fakeVendor(t, tianyuantest.Options{})
	killRun := func(t *testing.T, out, input, formats, at string, delay time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PIPELINE_TEST_CHILD=1", "PIPELINE_TEST_OUT="+out, "PIPELINE_TEST_INPUT="+input,
			"PIPELINE_TEST_FORMATS="+formats, "PIPELINE_TEST_KILL_AT="+at)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delay > 0 {
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			if at == "" && err == nil {
				return // finished before the kill, or not to be killed
			}
			t.Fatalf("child: %v, want killed\n%s", err, stderr.String())
		}
	}
	kill := func(t *testing.T, out, at string, delay time.Duration) {
		t.Helper()
		killRun(t, out, some, "parquet,csv", at, delay)
	}
	var old outputSet
	fresh := func(t *testing.T) string {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := runInto(t, client, out, all, allFormats...); err != nil {
			t.Fatal(err)
		}
		old = readSet(t, out)
		return out
	}
	newSet := func(t *testing.T, got outputSet) bool {
		return got.written < old.written && slices.Equal(got.formats, []string{pipeline.FileCSV, pipeline.FileParquet})
	}
	for i, step := range publishSteps {
		t.Run("at "+step, func(t *testing.T) {
			out := fresh(t)
			kill(t, out, step, 0)
			got := readSet(t, out)
			wantNew := i == len(publishSteps)-1 // killed after the swap
			if newSet(t, got) != wantNew || !wantNew && !reflectEqual(got, old) {
				t.Errorf("killed at %s: the folder holds %+v (old %+v), want the %s set", step, got, old, map[bool]string{true: "new", false: "old"}[wantNew])
			}
			if _, err := runInto(t, client, out, some, twoFormats...); err != nil {
				t.Fatal(err)
			}
			if left := leftBehind(t, out); len(left) > 0 {
				t.Errorf("left behind after the next run: %v", left)
			}
		})
	}
	t.Run("at random instants", func(t *testing.T) {
		// Runs alternate between two sets: all applicants in three
		// formats, and 40 of them in two. After each kill the folder
		// holds the set before or the set of the killed run, whole.
		out := fresh(t)
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
		start := time.Now()
		killRun(t, out, all, "parquet,xlsx,csv", "", 0) // a whole run, to learn how long one takes
		full := time.Since(start) * 6 / 5
		prev := readSet(t, out)
		sets := map[bool]struct{ input, formats string }{
			true: {all, "parquet,xlsx,csv"}, false: {some, "parquet,csv"},
		}
		for round := range 10 {
			big := round%2 == 0
			delay := time.Duration(rng.Int64N(int64(full))) + time.Millisecond
			killRun(t, out, sets[big].input, sets[big].formats, "", delay)
			got := readSet(t, out)
			isBig := len(got.formats) == 3 && got.written == old.written
			isSmall := len(got.formats) == 2 && got.written < old.written
			switch {
			case !isBig && !isSmall:
				t.Errorf("round %d: the folder holds %+v, neither set", round, got)
			case reflectEqual(got, prev):
				t.Logf("round %d: killed after %v of %v: the set before", round, delay, full)
			case isBig == big:
				t.Logf("round %d: killed after %v of %v: the new set", round, delay, full)
			default:
				t.Errorf("round %d: the folder holds %+v, neither the set before %+v nor the killed run's", round, got, prev)
			}
			prev = got
		}
		if _, err := runInto(t, client, out, some, twoFormats...); err != nil {
			t.Fatal(err)
		}
		if left := leftBehind(t, out); len(left) > 0 {
			t.Errorf("left behind after the next run: %v", left)
		}
	})
}

// gatedCaller holds every call until release is closed, and closes
// started at the first.
type gatedCaller struct {
	next    tianyuan.Caller
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedCaller) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.next.Call(ctx, product, params)
}

type countingCaller struct {
	next  tianyuan.Caller
	calls atomic.Int64
}

func (c *countingCaller) Call(ctx context.Context, product string, params tianyuan.Params) (*tianyuan.Reply, error) {
	c.calls.Add(1)
	return c.next.Call(ctx, product, params)
}

func TestSecondRunIntoTheSameFolderFailsAtOnce(t *testing.T) {
	all, some := twoInputs(t)
	_, client := fakeVendor(t, tianyuantest.Options{})
	out := filepath.Join(t.TempDir(), "out")
	gate := &gatedCaller{next: client, started: make(chan struct{}), release: make(chan struct{})}
	first := make(chan error, 1)
	go func() {
		cfg := sampleConfig(t)
		cfg.Output.Dir, cfg.Input.Files = out, []string{all}
		e := env(client)
		e.Caller = gate
		_, err := pipeline.Run(context.Background(), cfg, e)
		first <- sampleComplete(err)
	}()
	select {
	case <-gate.started:
	case err := <-first:
		t.Fatalf("the first run ended before calling: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the first run made no call within a minute")
	}
	counter := &countingCaller{next: client}
	cfg := sampleConfig(t)
	cfg.Output.Dir, cfg.Input.Files = out, []string{some}
	e := env(client)
	e.Caller = counter
	_, err := pipeline.Run(context.Background(), cfg, e)
	close(gate.release)
	var abort *pipeline.AbortError
	var locked *publish.LockedError
	if !errors.As(err, &abort) || !errors.As(err, &locked) {
		t.Fatalf("second run: %v, want an *AbortError for a *publish.LockedError", err)
	}
	if !strings.Contains(err.Error(), out) {
		t.Errorf("error %q does not name the folder", err)
	}
	if n := counter.calls.Load(); n != 0 {
		t.Errorf("the refused run made %d calls", n)
	}
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("first run: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the first run did not finish within two minutes")
	}
	got := readSet(t, out)
	if !slices.Equal(got.formats, []string{pipeline.FileCSV, pipeline.FileParquet, pipeline.FileXLSX}) {
		t.Errorf("formats %v, want the first run's", got.formats)
	}
	if left := leftBehind(t, out); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestLeftoversOfKilledRunsAreRemoved(t *testing.T) {
	_, some := twoInputs(t)
	_, client := fakeVendor(t, tianyuantest.Options{})
	out := filepath.Join(t.TempDir(), "out")
	if _, err := runInto(t, client, out, some, twoFormats...); err != nil {
		t.Fatal(err)
	}
	// What killed runs of this and of earlier versions leave.
	dead := filepath.Join(filepath.Dir(out), ".out.scorepipe-new-0123456789abcdef")
	for _, p := range []string{
		filepath.Join(dead, ".features.parquet.tmp-123"), filepath.Join(dead, ".features.xlsx.spill-4"), filepath.Join(dead, "excelize-5"),
		filepath.Join(filepath.Dir(out), ".out.scorepipe-old-fedcba9876543210", "features.parquet"),
		filepath.Join(out, ".features.parquet.tmp-77"), filepath.Join(out, ".features.xlsx.spill-78"), filepath.Join(out, ".rejects.csv.tmp-79"),
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Another folder's staging is not this one's to remove.
	other := filepath.Join(filepath.Dir(out), ".out2.scorepipe-new-0123456789abcdef")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := runInto(t, client, out, some, twoFormats...); err != nil {
		t.Fatal(err)
	}
	if left := leftBehind(t, out); !slices.Equal(left, []string{filepath.Base(other)}) {
		t.Errorf("left behind: %v, want only %s", left, filepath.Base(other))
	}
	readSet(t, out)
}

func TestOutputFolderWithForeignEntries(t *testing.T) {
	_, some := twoInputs(t)
	_, client := fakeVendor(t, tianyuantest.Options{})
	t.Run("files are carried over", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "README.txt"), []byte("kept"), 0o644); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := runInto(t, client, out, some, twoFormats...); err != nil {
				t.Fatal(err)
			}
		}
		if data, err := os.ReadFile(filepath.Join(out, "README.txt")); err != nil || string(data) != "kept" {
			t.Errorf("README.txt = %q, %v; want it kept", data, err)
		}
	})
	t.Run("a foreign folder is refused before any call", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		if err := os.MkdirAll(filepath.Join(out, "archive"), 0o755); err != nil {
			t.Fatal(err)
		}
		counter := &countingCaller{next: client}
		cfg := sampleConfig(t)
		cfg.Output.Dir, cfg.Input.Files = out, []string{some}
		e := env(client)
		e.Caller = counter
		_, err := pipeline.Run(context.Background(), cfg, e)
		var ce *config.ConfigError
		if !errors.As(err, &ce) || ce.Field != "output.dir" || !strings.Contains(err.Error(), "archive/") {
			t.Fatalf("Run = %v, want a *ConfigError on output.dir naming archive/", err)
		}
		if n := counter.calls.Load(); n != 0 {
			t.Errorf("%d calls made", n)
		}
	})
}

func TestCSVOutputsNeutraliseFormulaCells(t *testing.T) {
	rows := cleanSampleRows(t)
	header := rows[0]
	appCol, nameCol := slices.Index(header, "application_id"), slices.Index(header, "姓名")
	idCol := slices.Index(header, "身份证号")
	if appCol < 0 || nameCol < 0 || idCol < 0 {
		t.Fatalf("sample header %v", header)
	}
	leads := []string{"=", "+", "-", "@", "\t", "\r"}
	in := [][]string{header}
	for i, lead := range leads {
		valid := slices.Clone(rows[1+i])
		valid[appCol] = lead + `HYPERLINK("http://x","y")`
		valid[nameCol] = lead + valid[nameCol]
		in = append(in, valid)
		rejected := slices.Clone(rows[1+len(leads)+i])
		rejected[nameCol] = lead + "cmd|' /C calc'!A0"
		rejected[idCol] = lead + "1"
		in = append(in, rejected)
	}
	path := filepath.Join(t.TempDir(), "formulas.csv")
	writeDelimited(t, path, in, ',', false, false)
	_, client := fakeVendor(t, tianyuantest.Options{})
	cfg := sampleConfig(t)
	cfg.Input.Files = []string{path}
	if _, err := pipeline.Run(context.Background(), cfg, env(client)); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
		t.Fatal(err)
	}
	out := cfg.Output.Dir
	csvHeader, feats := readCSV(t, filepath.Join(out, pipeline.FileCSV))
	tbl := readParquet(t, filepath.Join(out, pipeline.FileParquet))
	textCols := map[string]bool{}
	for _, f := range tbl.Schema().Fields() {
		textCols[f.Name] = f.Type.ID() == arrow.STRING
	}
	formulaLike := 0
	for _, name := range csvHeader {
		if !textCols[name] {
			continue
		}
		raw := stringColumn(t, tbl, name)
		got := feats
		c := column(t, csvHeader, name)
		for i, v := range raw {
			want := v
			if pipelineFormulaLike(v) {
				want = "'" + v
				formulaLike++
			}
			if got[i][c] != want {
				t.Errorf("features.csv %s row %d = %q, want %q (parquet holds %q)", name, i+1, got[i][c], want, v)
			}
		}
	}
	t.Logf("%d rows written, %d formula-like text cells neutralised", len(feats), formulaLike)
	// Every lead reached the outputs: in application_id and in the masked name.
	if formulaLike < 2*4 {
		t.Errorf("only %d formula-like text cells reached features.csv; the test wants each lead in application_id and name", formulaLike)
	}
	for _, c := range []string{"application_id", "name"} {
		for i, r := range feats {
			if v := r[column(t, csvHeader, c)]; v != "" && pipelineFormulaLike(v) {
				t.Errorf("features.csv %s row %d = %q starts like a formula", c, i+1, v)
			}
		}
	}
	_, rejects := readCSV(t, filepath.Join(out, pipeline.FileRejects))
	if len(rejects) < 4 {
		t.Fatalf("%d rejects, want the rows with bad ID numbers", len(rejects))
	}
	quoted := 0
	for i, r := range rejects {
		for j, v := range r {
			if pipelineFormulaLike(v) {
				t.Errorf("rejects.csv row %d field %d = %q starts like a formula", i+1, j+1, v)
			}
			if strings.HasPrefix(v, "'") {
				quoted++
			}
		}
	}
	if quoted < 4 {
		t.Errorf("%d neutralised cells in rejects.csv, want the masked names and IDs of the rejected rows", quoted)
	}
}

func pipelineFormulaLike(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

func TestCSVByteOrderMarkSetting(t *testing.T) {
	_, some := twoInputs(t)
	_, client := fakeVendor(t, tianyuantest.Options{})
	for _, c := range []struct {
		set  []string
		want bool
	}{{nil, true}, {[]string{"output.csv.bom=false"}, false}, {[]string{"output.csv.bom=true"}, true}} {
		t.Run(fmt.Sprint(c.set), func(t *testing.T) {
			cfg, err := config.LoadConfig("../samples/pipeline.yaml", c.set...)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Output.Dir = filepath.Join(t.TempDir(), "out")
			cfg.Output.Formats = twoFormats
			cfg.Input.Files = []string{some}
			_, err = pipeline.Run(context.Background(), cfg, env(client))
			requireComplete(t, err)
			for _, name := range []string{pipeline.FileCSV, pipeline.FileRejects} {
				data, err := os.ReadFile(filepath.Join(cfg.Output.Dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.HasPrefix(string(data), "\ufeff"); got != c.want {
					t.Errorf("%s starts with a BOM = %v, want %v", name, got, c.want)
				}
			}
		})
	}
}
