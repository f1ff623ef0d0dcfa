package review

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/rundir"
	"github.com/scorepipe/scorepipe/sinks"
)

func testMappings(t testing.TB) *mappings.Set {
	t.Helper()
	set, err := mappings.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// runSchema is the schema a run of every catalog has: the leading
// columns, a label, then per product its status columns and fields.
func runSchema(set *mappings.Set) sinks.Schema {
	s := sinks.Schema{
		{Name: "source_file", Type: sinks.String},
		{Name: "source_row", Type: sinks.Int64},
		{Name: "applicant_key", Type: sinks.String, Distinct: true},
		{Name: "label", Type: sinks.Int64},
	}
	var products []string
	for p := range set.Catalogs {
		products = append(products, p)
	}
	sort.Strings(products)
	kind := map[mappings.ColumnKind]sinks.Type{mappings.KindString: sinks.String, mappings.KindInt: sinks.Int64,
		mappings.KindFloat: sinks.Float64, mappings.KindTime: sinks.Timestamp}
	for _, p := range products {
		c := set.Catalogs[p]
		cols := c.StatusColumns()
		for i := range c.Fields {
			cols = append(cols, c.Fields[i].Columns()...)
		}
		for _, col := range cols {
			s = append(s, sinks.Column{Name: col.Name, Type: kind[col.Kind]})
		}
	}
	return s
}

// statusColumnsOf lists every status column of the schema.
func statusColumnsOf(s sinks.Schema) []string {
	var out []string
	for _, c := range s {
		if strings.HasSuffix(c.Name, "_status") {
			out = append(out, c.Name)
		}
	}
	return out
}

// writeRun publishes a run in dir: features.parquet with rows (column →
// value: string, int, int64 or float64; a status column not given is
// "ok"), manifest.json and _SUCCESS.
func writeRun(t testing.TB, dir string, set *mappings.Set, rows []map[string]any) *rundir.Run {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	schema := runSchema(set)
	statuses := statusColumnsOf(schema)
	p, err := sinks.NewParquet(filepath.Join(dir, rundir.FileFeatures), schema, sinks.ParquetOptions{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	batch := make([]sinks.Row, 0, len(rows))
	for i, r := range rows {
		row := sinks.NewRow(len(schema))
		row.SetString(0, "applicants.csv")
		row.SetInt(1, int64(i+2))
		for _, st := range statuses {
			if _, ok := r[st]; !ok {
				row.SetString(schema.Index(st), "ok")
			}
		}
		for name, v := range r {
			k := schema.Index(name)
			if k < 0 {
				t.Fatalf("fixture: no column %s", name)
			}
			switch x := v.(type) {
			case nil:
				row.SetNull(k)
			case string:
				row.SetString(k, x)
			case int:
				row.SetInt(k, int64(x))
			case int64:
				row.SetInt(k, x)
			case float64:
				if schema[k].Type == sinks.Int64 {
					row.SetInt(k, int64(x))
				} else {
					row.SetFloat(k, x)
				}
			default:
				t.Fatalf("fixture: value %v of column %s", v, name)
			}
			if schema[k].Type == sinks.Float64 {
				if x, ok := v.(int); ok {
					row.SetFloat(k, float64(x))
				}
			}
		}
		batch = append(batch, row)
	}
	if err := p.Write(batch); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	manifest := `{"tool": "scorepipe", "version": "test", "rows": {"read": ` + itoa(len(rows)) + `, "valid": ` + itoa(len(rows)) +
		`, "rejected": 0, "written": ` + itoa(len(rows)) + `}, "products": {"JRZQ9E2A": {"ok": 1, "billed": 1}}, "mappings": []}`
	if err := os.WriteFile(filepath.Join(dir, rundir.FileManifest), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.FileSuccess), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := rundir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }

// review runs a review of cur against base (nil for none) into a
// temporary directory and returns the report and the changes.
func review(t testing.TB, cur, base *rundir.Run, set *mappings.Set, opts Options) (*Report, []Change, error) {
	t.Helper()
	opts.Current, opts.Baseline, opts.Mappings = cur, base, set
	if opts.Out == "" {
		opts.Out = filepath.Join(t.TempDir(), FileWorkbook)
	}
	rep, out, err := compute(context.Background(), opts)
	if err != nil {
		return nil, nil, err
	}
	defer out.abort()
	if err := out.finishChanges(); err != nil {
		return nil, nil, err
	}
	var changes []Change
	if err := out.eachChange(func(c Change) error { changes = append(changes, c); return nil }); err != nil {
		return nil, nil, err
	}
	if err := out.writeJSON(rep); err != nil {
		return nil, nil, err
	}
	if err := out.writeWorkbook(rep); err != nil {
		return nil, nil, err
	}
	if err := out.commit(); err != nil {
		return nil, nil, err
	}
	if len(rep.Alerts) > 0 {
		return rep, changes, &AlertError{Alerts: rep.Alerts}
	}
	return rep, changes, nil
}

var errAlert *AlertError

func isAlert(err error) bool { return errors.As(err, &errAlert) }
