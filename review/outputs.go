package review

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/scorepipe/scorepipe/sinks"
)

// maxSheetChanges is the number of changes the changes sheet shows;
// changes.parquet has them all.
const maxSheetChanges = 100_000

// changesSchema is the schema of changes.parquet.
var changesSchema = sinks.Schema{
	{Name: "applicant_key", Type: sinks.String, Description: "申请人标识(HMAC), 与 features.parquet 关联", Distinct: true},
	{Name: "source_row", Type: sinks.Int64, Description: "本期输入文件中的行号"},
	{Name: "rule", Type: sinks.String, Description: "变化规则"},
	{Name: "column", Type: sinks.String, Description: "触发规则的特征"},
	{Name: "old_value", Type: sinks.String, Description: "基期值"},
	{Name: "new_value", Type: sinks.String, Description: "本期值"},
}

// outputs are the files of a review, written under temporary names and
// published together by commit.
type outputs struct {
	workbook    string
	jsonPath    string
	changesPath string

	parquet *sinks.Parquet // nil without a baseline
	pending []sinks.Row
	changes int64
	// changes.parquet is finished under this name, read back for the
	// workbook's changes sheet, and renamed by commit.
	changesDone string

	json, xlsx *sinks.AtomicFile
}

func newOutputs(workbook string, withChanges bool) (*outputs, error) {
	if err := os.MkdirAll(filepath.Dir(workbook), 0o755); err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	o := &outputs{workbook: workbook, jsonPath: JSONPath(workbook), changesPath: ChangesPath(workbook)}
	// A temporary name of the form output folders know as a run's own
	// (.changes.parquet.tmp-*), so that what a killed review leaves is
	// cleaned by the next run.
	o.changesDone = filepath.Join(filepath.Dir(o.changesPath), "."+filepath.Base(o.changesPath)+".tmp-done")
	if o.jsonPath == workbook {
		return nil, fmt.Errorf("review: the workbook %s needs an extension such as .xlsx", workbook)
	}
	if withChanges {
		p, err := sinks.NewParquet(o.changesDone, changesSchema, sinks.ParquetOptions{RowGroupRows: 16384})
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		o.parquet = p
	}
	return o, nil
}

// addChange writes a change to changes.parquet.
func (o *outputs) addChange(c Change) error {
	o.changes++
	row := sinks.NewRow(len(changesSchema))
	row.SetString(0, c.ApplicantKey)
	if c.SourceRow > 0 {
		row.SetInt(1, c.SourceRow)
	}
	row.SetString(2, c.Rule)
	row.SetString(3, c.Column)
	if c.Old != "" {
		row.SetString(4, c.Old)
	}
	if c.New != "" {
		row.SetString(5, c.New)
	}
	o.pending = append(o.pending, row)
	if len(o.pending) >= 1024 {
		return o.flush()
	}
	return nil
}

func (o *outputs) flush() error {
	if len(o.pending) == 0 {
		return nil
	}
	err := o.parquet.Write(o.pending)
	o.pending = o.pending[:0]
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	return nil
}

// writeJSON writes review.json under a temporary name.
func (o *outputs) writeJSON(rep *Report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("review: encode %s: %w", o.jsonPath, err)
	}
	f, err := sinks.CreateAtomic(o.jsonPath)
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	o.json = f
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("review: write %s: %w", o.jsonPath, err)
	}
	return nil
}

// writeWorkbook writes review.xlsx under a temporary name.
func (o *outputs) writeWorkbook(rep *Report) error {
	f, err := sinks.CreateAtomic(o.workbook)
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	o.xlsx = f
	w := bufio.NewWriterSize(f, 1<<20)
	if err := buildWorkbook(w, rep, o.eachChange); err != nil {
		return fmt.Errorf("review: %s: %w", o.workbook, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("review: write %s: %w", o.workbook, err)
	}
	return nil
}

// finishChanges completes changes.parquet under its temporary name.
func (o *outputs) finishChanges() error {
	if o.parquet == nil {
		return nil
	}
	if err := o.flush(); err != nil {
		return err
	}
	if err := o.parquet.Commit(); err != nil {
		return fmt.Errorf("review: %w", err)
	}
	return nil
}

// sheetChanges is the number of changes on the changes sheet.
func (o *outputs) sheetChanges() int64 { return min(o.changes, maxSheetChanges) }

// eachChange calls fn with the first sheetChanges changes, read back from
// the finished changes.parquet.
func (o *outputs) eachChange(fn func(Change) error) error {
	if o.parquet == nil || o.changes == 0 {
		return nil
	}
	pf, err := file.OpenParquetFile(o.changesDone, false)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	text := func(a arrow.Array, i int) string {
		s := a.(*array.String)
		if s.IsNull(i) {
			return ""
		}
		return strings.Clone(s.Value(i))
	}
	left := o.sheetChanges()
	for left > 0 && rr.Next() {
		rec := rr.Record()
		rows := rec.Column(1).(*array.Int64)
		for i := 0; i < int(rec.NumRows()) && left > 0; i++ {
			c := Change{ApplicantKey: text(rec.Column(0), i), Rule: text(rec.Column(2), i), Column: text(rec.Column(3), i),
				Old: text(rec.Column(4), i), New: text(rec.Column(5), i)}
			if rows.IsValid(i) {
				c.SourceRow = rows.Value(i)
			}
			if err := fn(c); err != nil {
				return err
			}
			left--
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// commit publishes changes.parquet, review.json and review.xlsx, in this
// order.
func (o *outputs) commit() error {
	if o.parquet != nil {
		if err := os.Rename(o.changesDone, o.changesPath); err != nil {
			return fmt.Errorf("review: publish %s: %w", o.changesPath, err)
		}
		if err := sinks.SyncDir(filepath.Dir(o.changesPath)); err != nil {
			return fmt.Errorf("review: %w", err)
		}
		o.parquet = nil
	}
	for _, f := range []*sinks.AtomicFile{o.json, o.xlsx} {
		if err := f.Commit(); err != nil {
			return fmt.Errorf("review: %w", err)
		}
	}
	return nil
}

// abort removes whatever temporary file is left; it is safe after commit.
func (o *outputs) abort() {
	if o == nil {
		return
	}
	if o.parquet != nil {
		_ = o.parquet.Abort()
		_ = os.Remove(o.changesDone)
	}
	for _, f := range []*sinks.AtomicFile{o.json, o.xlsx} {
		if f != nil {
			_ = f.Abort()
		}
	}
}
