package sinks

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func readCSV(t *testing.T, path string) (bom bool, records [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, bom = bytes.CutPrefix(b, []byte("\ufeff"))
	records, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return bom, records
}

func TestCSV(t *testing.T) {
	schema := append(Schema{}, testSchema...)
	schema = append(schema, Column{Name: "note", Type: String})
	row := func(name string, score int64, low float64, ms int64, note string) Row {
		return Row{{Valid: true, S: name}, {Valid: true, I: score}, {Valid: true, F: low}, {Valid: true, I: ms}, {Valid: true, S: note}}
	}
	header := []string{"name", "score", "low", "queried_at", "note"}
	tests := []struct {
		name string
		opts []CSVOptions
		rows []Row
		bom  bool
		want [][]string
	}{
		{"no rows", nil, nil, false, [][]string{header}},
		{"values", nil, []Row{
			row("张三", -42, 0.1, 1709280000123, `say "hi", then
leave`),
			row("", 0, 0, 0, " "),
			row("x", 1<<62, 1e21, -1, "=1+1"),
			row("y", 7, 123456789.125, 1709280000000, "a,b"),
			NewRow(5),
		}, false, [][]string{
			header,
			{"张三", "-42", "0.1", "2024-03-01T08:00:00.123Z", "say \"hi\", then\nleave"},
			{"", "0", "0", "1970-01-01T00:00:00.000Z", " "},
			{"x", "4611686018427387904", "1e+21", "1969-12-31T23:59:59.999Z", "'=1+1"},
			{"y", "7", "1.23456789125e+08", "2024-03-01T08:00:00.000Z", "a,b"},
			{"", "", "", "", ""},
		}},
		{"bom", []CSVOptions{{BOM: true}}, []Row{row("a", 1, 1.5, 0, "")}, true, [][]string{
			header,
			{"a", "1", "1.5", "1970-01-01T00:00:00.000Z", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "features.csv")
			c, err := NewCSV(path, schema, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Abort()
			if err := c.Write(tt.rows); err != nil {
				t.Fatal(err)
			}
			if err := c.Commit(); err != nil {
				t.Fatal(err)
			}
			bom, got := readCSV(t, path)
			if bom != tt.bom {
				t.Errorf("BOM = %v, want %v", bom, tt.bom)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("records = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCSVTwoOptions(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewCSV(filepath.Join(dir, "f.csv"), testSchema, CSVOptions{}, CSVOptions{}); err == nil {
		t.Error("NewCSV with two options = nil error, want one")
	}
}

func TestRejects(t *testing.T) {
	header := []string{"source_file", "source_row", "column", "reason", "name", "id_card", "mobile_no"}
	tests := []struct {
		name    string
		rejects []Reject
		want    [][]string
	}{
		{"none", nil, [][]string{header}},
		{"some", []Reject{
			{File: "in.csv", Row: 3, Column: "id_card", Reason: "checksum", Name: "张*", IDCard: "110101********4477", Mobile: "138****8000"},
			{File: "in, 2.csv", Row: 0, Reason: "unreadable row"},
		}, [][]string{
			header,
			{"in.csv", "3", "id_card", "checksum", "张*", "110101********4477", "138****8000"},
			{"in, 2.csv", "", "", "unreadable row", "", "", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "rejects.csv")
			r, err := NewRejects(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Abort()
			for _, x := range tt.rejects {
				if err := r.Add(x); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := r.Count(), len(tt.rejects); got != want {
				t.Errorf("Count() = %d, want %d", got, want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("before Commit: Stat = %v, want not exist", err)
			}
			if err := r.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := r.Add(Reject{}); err == nil {
				t.Error("Add after Commit = nil, want an error")
			}
			_, got := readCSV(t, path)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("records = %q, want %q", got, tt.want)
			}
			if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{"rejects.csv"}) {
				t.Errorf("dir holds %q, want only rejects.csv", got)
			}
		})
	}
}

func TestRejectsConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rejects.csv")
	r, err := NewRejects(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Abort()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if err := r.Add(Reject{File: "f", Row: g*100 + i + 1, Reason: strings.Repeat("r", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	_, got := readCSV(t, path)
	if len(got) != 801 || r.Count() != 800 {
		t.Errorf("%d records and Count() = %d, want 801 and 800", len(got), r.Count())
	}
}

func TestRejectsAbort(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRejects(filepath.Join(dir, "rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Reject{File: "f", Row: 1, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := r.Abort(); err != nil {
		t.Errorf("second Abort = %v, want nil", err)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("after Abort: dir holds %q, want nothing", got)
	}
}

func TestWriteJSONAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	v := map[string]any{"rows": 3, "note": "a<b & c", "files": []string{"features.parquet"}}
	if err := WriteJSONAtomic(path, v); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"files\": [\n    \"features.parquet\"\n  ],\n  \"note\": \"a<b & c\",\n  \"rows\": 3\n}\n"
	if string(b) != want {
		t.Errorf("manifest = %q, want %q", b, want)
	}
	if err := WriteJSONAtomic(filepath.Join(dir, "bad.json"), map[string]any{"f": func() {}}); err == nil {
		t.Error("WriteJSONAtomic(func) = nil, want an error")
	}
	if got := dirNames(t, dir); !reflect.DeepEqual(got, []string{"manifest.json"}) {
		t.Errorf("dir holds %q, want only manifest.json", got)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Error(err)
	}
}

// TestOutputFileMode: output files are 0640, or less where the umask
// takes more away; never readable by others.
func TestOutputFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := WriteJSONAtomic(path, map[string]int{"rows": 1}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&^0o640 != 0 || got&0o600 != 0o600 {
		t.Errorf("mode %o, want 0640 less what the umask takes (and the owner's read and write)", got)
	}
}
