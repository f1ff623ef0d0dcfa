package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/sources"
)

// hostileRows returns the sample's clean rows repeated until the file is
// past the 64 KiB the reader samples to detect the encoding, each with
// its own application_id, and the header.
func hostileRows(t *testing.T) (header []string, rows [][]string) {
	t.Helper()
	clean := cleanSampleRows(t)
	header, sample := clean[0], clean[1:]
	for copyN := 0; len(rows) < 520; copyN++ {
		for _, r := range sample {
			r = append([]string(nil), r...)
			r[0] = fmt.Sprintf("%s-%d", r[0], copyN)
			rows = append(rows, r)
		}
	}
	return header, rows[:520] // some 74 KB
}

// joinRows writes rows as CSV lines, ending line i with end(i); fields
// are written as they are (the rows hold no delimiter or quote).
func joinRows(header []string, rows [][]string, end func(i int) string) string {
	var b strings.Builder
	b.WriteString(strings.Join(header, ",") + end(0))
	for i, r := range rows {
		b.WriteString(strings.Join(r, ",") + end(i+1))
	}
	return b.String()
}

// TestHostileInputFiles runs files a careless export or a hostile hand
// makes through a whole run under pii: mask: every input row ends in the
// features or in the rejects, nothing an output holds is invalid UTF-8,
// and no raw ID number or mobile of any row is in any output or log line.
func TestHostileInputFiles(t *testing.T) {
	header, rows := hostileRows(t)
	const nameCol, idCol, mobileCol = 1, 2, 3
	lf := func(int) string { return "\n" }
	gb18030 := func(s string) []byte {
		b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// withRow rewrites one row's field, for the file at hand only.
	withRow := func(i, col int, f func(string) string) [][]string {
		out := make([][]string, len(rows))
		copy(out, rows)
		out[i] = append([]string(nil), rows[i]...)
		out[i][col] = f(out[i][col])
		return out
	}
	tests := []struct {
		name    string
		data    func() []byte
		rejects map[int]string // row (line) → a reason expected for it
	}{
		{"a quote that never closes", func() []byte {
			return []byte(joinRows(header, withRow(4, nameCol, func(s string) string { return `"` + s }), lf))
		}, map[int]string{6: "unclosed quote"}},
		{"a quote that never closes, in the ID, last row", func() []byte {
			return []byte(joinRows(header, withRow(len(rows)-1, idCol, func(s string) string { return `"` + s }), lf))
		}, map[int]string{len(rows) + 1: "unclosed quote"}},
		{"CR line breaks", func() []byte {
			return []byte(joinRows(header, rows, func(int) string { return "\r" }))
		}, nil},
		{"mixed line breaks and a quote that never closes", func() []byte {
			return []byte(joinRows(header, withRow(300, mobileCol, func(s string) string { return `"` + s }),
				func(i int) string { return []string{"\n", "\r\n", "\r"}[i%3] }))
		}, map[int]string{302: "unclosed quote"}},
		{"bytes not UTF-8 past the first 64 KiB", func() []byte {
			text := joinRows(header, withRow(490, nameCol, func(s string) string { return s[:3] + "\x00" }), lf)
			return bytes.Replace([]byte(text), []byte("\x00"), []byte("\xff\xfe"), 1)
		}, map[int]string{492: "not valid UTF-8"}},
		{"a name cut inside a character, past the first 64 KiB", func() []byte {
			return []byte(joinRows(header, withRow(505, nameCol, func(s string) string { return s[:len(s)-1] }), lf))
		}, map[int]string{507: "not valid UTF-8"}},
		{"U+FFFD in a name", func() []byte {
			return []byte(joinRows(header, withRow(20, nameCol, func(s string) string { return s + "\uFFFD" }), lf))
		}, map[int]string{22: "U+FFFD"}},
		{"GB18030 with four-byte names and a bad byte past 64 KiB", func() []byte {
			four := withRow(500, nameCol, func(s string) string { return "\x00" + s })
			four[3] = append([]string(nil), four[3]...)
			four[3][nameCol] = "吉𠮷"
			four[7] = append([]string(nil), four[7]...)
			four[7][nameCol] = "刘䶵"
			text := gb18030(joinRows(header, four, func(int) string { return "\r\n" }))
			return bytes.Replace(text, []byte{0}, []byte{0xff}, 1) // 0xff is never GB18030
		}, map[int]string{502: "not valid GBK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
			path := filepath.Join(t.TempDir(), "hostile.csv")
			if err := os.WriteFile(path, tt.data(), 0o644); err != nil {
				t.Fatal(err)
			}
			_, client := fakeVendor(t, tianyuantest.Options{})
			cfg := sampleConfig(t)
			cfg.Input.Files = []string{path}
			cfg.Input.Passthrough = nil // every other column passes through: where swallowed rows would show
			cfg.Output.PII = "mask"
			var logs bytes.Buffer
			e := env(client)
			e.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			m, err := pipeline.Run(context.Background(), cfg, e)
			if err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
				t.Fatalf("Run: %v", err)
			}
			out := cfg.Output.Dir
			if _, err := os.Stat(filepath.Join(out, pipeline.FileSuccess)); err != nil {
				t.Fatalf("no %s: %v", pipeline.FileSuccess, err)
			}
			tbl := readParquet(t, filepath.Join(out, pipeline.FileParquet))
			_, feats := readCSV(t, filepath.Join(out, pipeline.FileCSV))
			rejHeader, rejects := readCSV(t, filepath.Join(out, pipeline.FileRejects))
			if got, want := int(tbl.NumRows())+len(rejects), len(rows); got != want {
				t.Errorf("%d features + %d rejects = %d, want the %d input rows", tbl.NumRows(), len(rejects), got, want)
			}
			if len(feats) != int(tbl.NumRows()) {
				t.Errorf("features.csv has %d rows, features.parquet %d", len(feats), tbl.NumRows())
			}
			if m.Rows.Read != len(rows) {
				t.Errorf("manifest read %d rows, want %d", m.Rows.Read, len(rows))
			}
			rowCol, reasonCol := column(t, rejHeader, "source_row"), column(t, rejHeader, "reason")
			for row, reason := range tt.rejects {
				found := false
				for _, r := range rejects {
					if r[rowCol] == fmt.Sprint(row) && strings.Contains(r[reasonCol], reason) {
						found = true
					}
				}
				if !found {
					t.Errorf("no reject for row %d with %q in %q", row, reason, rejects)
				}
			}
			// What the outputs hold: every string of the Parquet file, every
			// cell of the workbook, the text of every other file and the log.
			texts := map[string]string{"log": logs.String()}
			var parquetStrings []string
			for i := 0; i < int(tbl.NumCols()); i++ {
				for _, c := range tbl.Column(i).Data().Chunks() {
					if s, ok := c.(*array.String); ok {
						for j := 0; j < s.Len(); j++ {
							if !utf8.ValidString(s.Value(j)) {
								t.Errorf("features.parquet column %s holds invalid UTF-8 %q", tbl.Schema().Field(i).Name, s.Value(j))
							}
							parquetStrings = append(parquetStrings, s.Value(j))
						}
					}
				}
			}
			texts[pipeline.FileParquet] = strings.Join(parquetStrings, "\n")
			texts[pipeline.FileXLSX] = strings.Join(workbookCells(t, filepath.Join(out, pipeline.FileXLSX)), "\n")
			err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || strings.HasSuffix(p, ".parquet") || strings.HasSuffix(p, ".xlsx") || strings.Contains(p, ".scorepipe") {
					return err
				}
				data, err := os.ReadFile(p)
				texts[filepath.Base(p)] = string(data)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for name, text := range texts {
				if !utf8.ValidString(text) {
					t.Errorf("%s holds invalid UTF-8", name)
				}
				for _, r := range rows {
					for _, raw := range []string{r[idCol], r[mobileCol]} {
						if len(raw) >= 11 && strings.Contains(text, raw) {
							t.Errorf("%s holds the raw value %s", name, raw)
						}
					}
				}
			}
		})
	}
}

// workbookCells returns every cell of every sheet of a workbook.
func workbookCells(t *testing.T, path string) []string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cells []string
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			cells = append(cells, r...)
		}
	}
	return cells
}

// TestHostileHeaders refuses, before any call, files whose header cannot
// name the output columns: the error names the file and what to fix, and
// repeats no ID number or mobile.
func TestHostileHeaders(t *testing.T) {
	header, rows := hostileRows(t)
	rows = rows[:5]
	tests := []struct {
		name    string
		header  []string
		rows    [][]string
		message string
	}{
		{"applicant_key", append(header[:len(header):len(header)], "applicant_key"), nil, `input column "applicant_key" has the name of the output column "applicant_key"`},
		{"source_file", append(header[:len(header):len(header)], "source_file"), nil, `"source_file"`},
		{"Source_Row in other case", append(header[:len(header):len(header)], "Source_Row"), nil, `input column "Source_Row" has the name of the output column "source_row"`},
		{"a product column", append(header[:len(header):len(header)], "JRZQ9E2A_status"), nil, `"JRZQ9E2A_status"`},
		{"a product column in other case", append(header[:len(header):len(header)], "jrzq9e2a_STATUS"), nil, `"jrzq9e2a_STATUS"`},
		{"Label and label", append(header[:len(header):len(header)], "Label"), nil, `differ only in case`},
		{"no header row", nil, nil, "the header row looks like data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
			data := rows
			var text string
			if tt.header == nil {
				text = joinRows(rows[0], rows[1:], func(int) string { return "\n" })
			} else {
				data = make([][]string, len(rows))
				for i, r := range rows {
					data[i] = append(r[:len(r):len(r)], "x")
				}
				text = joinRows(tt.header, data, func(int) string { return "\r\n" })
			}
			path := filepath.Join(t.TempDir(), "in.csv")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			v, client := fakeVendor(t, tianyuantest.Options{})
			cfg := sampleConfig(t)
			cfg.Input.Files = []string{path}
			cfg.Input.Passthrough = nil // every other column passes through
			_, err := pipeline.Run(context.Background(), cfg, env(client))
			var fe *sources.FileError
			if !errors.As(err, &fe) || fe.File != path {
				t.Fatalf("Run = %v, want a *sources.FileError for %s", err, path)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Run = %q, want it to contain %q", err, tt.message)
			}
			for _, r := range rows {
				if len(r[2]) >= 11 && strings.Contains(err.Error(), r[2]) || len(r[3]) >= 11 && strings.Contains(err.Error(), r[3]) {
					t.Errorf("Run = %q: it repeats an ID number or mobile", err)
				}
			}
			if n := v.Billed("JRZQ9E2A") + v.Billed("COMBTY11"); n != 0 {
				t.Errorf("%d calls billed, want none", n)
			}
			if _, err := os.Stat(filepath.Join(cfg.Output.Dir, pipeline.FileSuccess)); err == nil {
				t.Errorf("%s written", pipeline.FileSuccess)
			}
		})
	}
	t.Run("Label and label in two files", func(t *testing.T) {
		t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
		dir := t.TempDir()
		for i, h := range []string{"Label", "label"} {
			hdr := append(header[:len(header):len(header)], h)
			data := make([][]string, len(rows))
			for j, r := range rows {
				data[j] = append(r[:len(r):len(r)], "1")
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in%d.csv", i)), []byte(joinRows(hdr, data, func(int) string { return "\n" })), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, client := fakeVendor(t, tianyuantest.Options{})
		cfg := sampleConfig(t)
		cfg.Input.Files = []string{filepath.Join(dir, "*.csv")}
		cfg.Input.Passthrough = nil
		_, err := pipeline.Run(context.Background(), cfg, env(client))
		var fe *sources.FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "differ only in case") {
			t.Fatalf("Run = %v, want a *sources.FileError for names differing only in case", err)
		}
	})
	t.Run("an output name listed in input.passthrough", func(t *testing.T) {
		t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
		hdr := append(header[:len(header):len(header)], "Applicant_Key")
		data := make([][]string, len(rows))
		for j, r := range rows {
			data[j] = append(r[:len(r):len(r)], "k")
		}
		path := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(path, []byte(joinRows(hdr, data, func(int) string { return "\n" })), 0o644); err != nil {
			t.Fatal(err)
		}
		_, client := fakeVendor(t, tianyuantest.Options{})
		cfg := sampleConfig(t)
		cfg.Input.Files = []string{path}
		cfg.Input.Passthrough = map[string]string{"Applicant_Key": "string"}
		_, err := pipeline.Run(context.Background(), cfg, env(client))
		var fe *sources.FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), `input column "Applicant_Key" has the name of the output column "applicant_key"`) {
			t.Fatalf("Run = %v, want a *sources.FileError for the column", err)
		}
	})
	t.Run("an output name left out by input.passthrough", func(t *testing.T) {
		t.Setenv("SCOREPIPE_STATE_DIR", t.TempDir())
		hdr := append(header[:len(header):len(header)], "applicant_key")
		data := make([][]string, len(rows))
		for j, r := range rows {
			data[j] = append(r[:len(r):len(r)], "k")
		}
		path := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(path, []byte(joinRows(hdr, data, func(int) string { return "\n" })), 0o644); err != nil {
			t.Fatal(err)
		}
		_, client := fakeVendor(t, tianyuantest.Options{})
		cfg := sampleConfig(t)
		cfg.Input.Files = []string{path}
		cfg.Input.Passthrough = map[string]string{"application_id": "string", "label": "int"}
		if _, err := pipeline.Run(context.Background(), cfg, env(client)); err != nil && !errors.Is(err, pipeline.ErrRowsFailed) {
			t.Fatalf("Run = %v, want the column left out and the run done", err)
		}
	})
}
