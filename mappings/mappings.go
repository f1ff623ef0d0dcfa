// Package mappings holds the field catalogs of the vendor products and the
// interval and enum tables their codes expand through: data files embedded in
// the binary, which files in a user directory add to or replace.
package mappings

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed catalogs/*.yaml tables/*.csv
var embedded embed.FS

// Error is a problem in a mapping file: the file, the line and the column
// or key it is on, and what is wrong. Its message never quotes the file.
type Error struct {
	File  string
	Line  int    // 0 when the problem is not on one line
	Field string // the table column or catalog key at fault; "" for none
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// File is one mapping file that a Set was loaded from.
type File struct {
	Name   string `json:"name"`   // catalogs/JRZQ9E2A.yaml, tables/jrzq9e2a_count.csv
	Origin string `json:"origin"` // "embedded" or the path of the user's file
	SHA256 string `json:"sha256"`
}

// Set is a validated collection of catalogs and the tables they use.
type Set struct {
	Catalogs map[string]*Catalog // by product code
	Tables   map[string]*Table   // by table name
	Files    []File              // every file read, sorted by name
}

// Load reads the embedded mapping files and then, when dir is not empty, the
// files under dir/catalogs and dir/tables; a user file replaces the embedded
// file of the same name, any other adds to the set. Everything is validated:
// the first problem found is returned as an *Error naming file and line.
func Load(dir string) (*Set, error) {
	if dir == "" {
		return load(nil, "")
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mappings directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("mappings directory %s is not a directory", dir)
	}
	return load(os.DirFS(dir), dir)
}

// load reads the embedded files and then those of user (when not nil),
// named in errors and in the manifest as under dir.
func load(user fs.FS, dir string) (*Set, error) {
	sources := map[string]source{}
	if err := collect(sources, embedded, "embedded"); err != nil {
		return nil, err
	}
	if user != nil {
		if err := collect(sources, user, dir); err != nil {
			return nil, err
		}
	}
	set := &Set{Catalogs: map[string]*Catalog{}, Tables: map[string]*Table{}}
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := sources[name]
		sum := sha256.Sum256(src.data)
		set.Files = append(set.Files, File{Name: name, Origin: src.origin, SHA256: hex.EncodeToString(sum[:])})
		switch path.Dir(name) {
		case "tables":
			t, err := parseTable(src.display, strings.TrimSuffix(path.Base(name), ".csv"), src.data, src.origin != "embedded")
			if err != nil {
				return nil, err
			}
			set.Tables[t.Name] = t
		case "catalogs":
			c, err := parseCatalog(src.display, src.data)
			if err != nil {
				return nil, err
			}
			if prev, dup := set.Catalogs[c.Product]; dup {
				return nil, &Error{File: src.display, Field: "product", Msg: "the product is already defined in " + prev.File}
			}
			set.Catalogs[c.Product] = c
		}
	}
	if err := set.check(); err != nil {
		return nil, err
	}
	return set, nil
}

type source struct {
	origin  string // "embedded" or the user directory
	display string // how errors name the file
	data    []byte
}

// maxFileSize bounds a mapping file: far above any real table (a
// 200,000-code table is about 10 MB), far below what would hurt.
const maxFileSize = 64 << 20

func collect(into map[string]source, fsys fs.FS, origin string) error {
	for _, pattern := range []string{"catalogs/*.yaml", "tables/*.csv"} {
		matches, err := fs.Glob(fsys, pattern)
		if err != nil {
			return err
		}
		for _, name := range matches {
			display, fileOrigin := "mappings/"+name, "embedded"
			if origin != "embedded" {
				display = filepath.Join(origin, filepath.FromSlash(name))
				fileOrigin = display
			}
			data, err := readMappingFile(fsys, name, display)
			if err != nil {
				return err
			}
			into[name] = source{origin: fileOrigin, display: display, data: data}
		}
	}
	return nil
}

// readMappingFile reads one mapping file, which must be a regular file (a
// symbolic link to one is followed) of at most maxFileSize bytes: a FIFO or
// a device would block or never end.
func readMappingFile(fsys fs.FS, name, display string) ([]byte, error) {
	// Stat before Open: opening a FIFO blocks until something writes to it.
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, &Error{File: display, Msg: "cannot be opened: " + describeOpenError(err)}
	}
	if !info.Mode().IsRegular() {
		return nil, &Error{File: display, Msg: "not a regular file"}
	}
	if info.Size() > maxFileSize {
		return nil, &Error{File: display, Msg: fmt.Sprintf("larger than %d MiB", maxFileSize>>20)}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, &Error{File: display, Msg: "cannot be opened: " + describeOpenError(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &Error{File: display, Msg: "cannot be read: " + describeOpenError(err)}
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: display, Msg: fmt.Sprintf("larger than %d MiB", maxFileSize>>20)}
	}
	return data, nil
}

// describeOpenError says why a file could not be opened or read, without
// the path the error repeats.
func describeOpenError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file (a broken symbolic link?)"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// check validates what crosses files: table references and column names.
func (s *Set) check() error {
	columns := map[string]string{}
	products := make([]string, 0, len(s.Catalogs))
	for p := range s.Catalogs {
		products = append(products, p)
	}
	sort.Strings(products)
	for _, p := range products {
		c := s.Catalogs[p]
		for _, col := range c.StatusColumns() {
			if prev, dup := columns[col.Name]; dup {
				return &Error{File: c.File, Field: "product", Msg: "its status columns are already produced by " + prev}
			}
			columns[col.Name] = c.File + " (status)"
		}
	}
	for _, p := range products {
		c := s.Catalogs[p]
		for i := range c.Fields {
			f := &c.Fields[i]
			fail := func(field, format string, args ...any) error {
				return &Error{File: c.File, Line: f.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
			}
			if f.Type.needsTable() {
				t, ok := s.Tables[f.Table]
				if !ok {
					return fail("table", "no table has this name (tables: %s)", strings.Join(s.tableNames(), ", "))
				}
				if t.Kind != f.Type.tableKind() {
					return fail("table", "a field of type %s needs an %s table, this one is an %s table (%s)", f.Type, f.Type.tableKind(), t.Kind, t.File)
				}
				if f.Integer {
					for _, e := range t.Entries {
						if _, ok := e.Interval.Integers(); !ok {
							return fail("integer", "the range on line %d of %s holds no whole number", e.Line, t.File)
						}
					}
				}
				f.table = t
			}
			for _, col := range f.Columns() {
				if prev, dup := columns[col.Name]; dup {
					which := "this field's column"
					if rest, ok := strings.CutPrefix(col.Name, f.Column); ok && rest != "" {
						which = "this field's " + rest + " column"
					}
					return fail("column", "%s has the name of one produced by %s", which, prev)
				}
				columns[col.Name] = fmt.Sprintf("%s:%d", c.File, f.Line)
			}
		}
	}
	return nil
}

func (s *Set) tableNames() []string {
	names := make([]string, 0, len(s.Tables))
	for n := range s.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Placeholder is a table in use that still holds sample entries.
type Placeholder struct {
	Table   string `json:"table"`
	File    string `json:"file"`
	Samples int    `json:"sample_entries"`
	Entries int    `json:"entries"`
}

// Placeholders lists, by table name, the tables that the fields of the
// given catalogs map through and that still hold sample entries.
func Placeholders(catalogs ...*Catalog) []Placeholder {
	seen := map[string]bool{}
	var out []Placeholder
	for _, c := range catalogs {
		for i := range c.Fields {
			t := c.Fields[i].Lookup()
			if t == nil || seen[t.Name] {
				continue
			}
			seen[t.Name] = true
			if n := t.Count(SourceSample); n > 0 {
				out = append(out, Placeholder{Table: t.Name, File: t.File, Samples: n, Entries: len(t.Entries)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

// Catalog returns the catalog of a product.
func (s *Set) Catalog(product string) (*Catalog, error) {
	c, ok := s.Catalogs[product]
	if !ok {
		known := make([]string, 0, len(s.Catalogs))
		for p := range s.Catalogs {
			known = append(known, p)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("unknown product %q (catalogs exist for %s)", product, strings.Join(known, ", "))
	}
	return c, nil
}

// ErrUnknownCode reports a code that its table does not list.
var ErrUnknownCode = errors.New("code not in table")
