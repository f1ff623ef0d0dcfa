package pipeline

import (
	"fmt"
	"strings"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/mappings"
)

// checkPlaceholders looks at the tables the configured products use: with
// mappings.require_official, one that still holds placeholder entries
// (source sample) is a config.ConfigError; otherwise the run says so once, with a
// warning naming them, and the manifest lists them.
func (r *run) checkPlaceholders() error {
	catalogs := make([]*mappings.Catalog, len(r.prods))
	for i, p := range r.prods {
		catalogs[i] = p.catalog
	}
	tables := mappings.Placeholders(catalogs...)
	r.manifest.PlaceholderTables = append([]mappings.Placeholder{}, tables...) // [] rather than null when none
	if len(tables) == 0 {
		return nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = fmt.Sprintf("%s (%d of %d entries, %s)", t.Table, t.Samples, t.Entries, t.File)
	}
	if r.cfg.Mappings.RequireOfficial {
		return &config.ConfigError{Field: "mappings.require_official", Msg: fmt.Sprintf(
			"these tables still hold placeholder entries (source sample): %s; put the vendor's official tables under mappings.dir/tables/, with source user",
			strings.Join(names, "; "))}
	}
	r.log.Warn("mapping tables in use hold placeholder entries (source sample): the values they give are not the vendor's; they are counted in manifest.json placeholder_values",
		"tables", strings.Join(names, "; "),
		"hint", "put the vendor's official tables under mappings.dir/tables/; mappings.require_official: true refuses to run without them")
	return nil
}

// placeholderValues is the manifest's count of the values written from
// placeholder entries, by column; empty, not absent, when there were none.
func (r *run) placeholderValues() map[string]int64 {
	if r.unknowns.Placeholders == nil {
		return map[string]int64{}
	}
	return r.unknowns.Placeholders
}
