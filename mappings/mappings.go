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
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed catalogs/*.yaml tables/*.csv
var embedded embed.FS

// Error is a problem in a mapping file, with the file and line it is on.
type Error struct {
	File string
	Line int // 0 when the problem is not on one line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
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
	sources := map[string]source{}
	if err := collect(sources, embedded, "embedded"); err != nil {
		return nil, err
	}
	if dir != "" {
		info, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("mappings directory: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("mappings directory %s is not a directory", dir)
		}
		if err := collect(sources, os.DirFS(dir), dir); err != nil {
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
			t, err := parseTable(src.display, strings.TrimSuffix(path.Base(name), ".csv"), src.data)
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
				return nil, &Error{File: src.display, Msg: fmt.Sprintf("product %s is already defined in %s", c.Product, prev.File)}
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

func collect(into map[string]source, fsys fs.FS, origin string) error {
	for _, pattern := range []string{"catalogs/*.yaml", "tables/*.csv"} {
		matches, err := fs.Glob(fsys, pattern)
		if err != nil {
			return err
		}
		for _, name := range matches {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return fmt.Errorf("read mapping file: %w", err)
			}
			display, fileOrigin := "mappings/"+name, "embedded"
			if origin != "embedded" {
				display = filepath.Join(origin, filepath.FromSlash(name))
				fileOrigin = display
			}
			into[name] = source{origin: fileOrigin, display: display, data: data}
		}
	}
	return nil
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
				return &Error{File: c.File, Msg: fmt.Sprintf("status column %s is already produced by %s", col.Name, prev)}
			}
			columns[col.Name] = c.File + " (status)"
		}
	}
	for _, p := range products {
		c := s.Catalogs[p]
		for i := range c.Fields {
			f := &c.Fields[i]
			if f.Type.needsTable() {
				t, ok := s.Tables[f.Table]
				if !ok {
					return &Error{File: c.File, Line: f.Line, Msg: fmt.Sprintf("field %s: unknown table %q", f.Path, f.Table)}
				}
				if t.Kind != f.Type.tableKind() {
					return &Error{File: c.File, Line: f.Line, Msg: fmt.Sprintf("field %s of type %s needs an %s table, %q is an %s table", f.Path, f.Type, f.Type.tableKind(), f.Table, t.Kind)}
				}
				f.table = t
			}
			for _, col := range f.Columns() {
				if prev, dup := columns[col.Name]; dup {
					return &Error{File: c.File, Line: f.Line, Msg: fmt.Sprintf("column %s is already produced by %s", col.Name, prev)}
				}
				columns[col.Name] = fmt.Sprintf("%s:%d", c.File, f.Line)
			}
		}
	}
	return nil
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
