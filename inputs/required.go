package inputs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/scorepipe/scorepipe/sources"
	"github.com/scorepipe/scorepipe/transform"
)

// CheckRequired refuses an input file without a column of the applicant's
// identity (name, ID number, mobile) that a configured product takes as a
// request parameter: needs maps each product code to its parameters (its
// catalog's params), aliases are input.columns. A missing identity column
// would otherwise reject every row after the run has started; an empty
// cell in a column that is there is a problem of its row only. The
// authorization columns are not checked here (see the loop). Every missing column of the
// first file lacking one is named, with the header names it is found by
// and the products that need it.
func CheckRequired(files []File, needs map[string][]string, aliases map[string][]string) error {
	neededBy := map[string][]string{} // parameter → products
	var params []string
	codes := make([]string, 0, len(needs))
	for code := range needs {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		for _, p := range needs[code] {
			if !isApplicant(p) {
				// An authorization column is a row's authorization for one
				// product: without it, the product is skipped for every row,
				// which the run reports (exit 2), as it does for empty cells.
				continue
			}
			if neededBy[p] == nil {
				params = append(params, p)
			}
			neededBy[p] = append(neededBy[p], code)
		}
	}
	order := map[string]int{}
	for i, c := range identityColumns {
		order[c] = i
	}
	sort.Slice(params, func(i, j int) bool { return order[params[i]] < order[params[j]] })
	for _, f := range files {
		var missing []string
		for _, p := range params {
			if _, ok := f.Identity[p]; ok {
				continue
			}
			names := append(append([]string(nil), sources.DefaultAliases[p]...), aliases[p]...)
			missing = append(missing, fmt.Sprintf("%s (looked for %s; set input.columns.%s), which %s %s",
				p, strings.Join(names, ", "), p, strings.Join(neededBy[p], " and "), needVerb(len(neededBy[p]))))
		}
		switch len(missing) {
		case 0:
		case 1:
			return &sources.FileError{File: f.Path, Err: fmt.Errorf("no column %s", missing[0])}
		default:
			return &sources.FileError{File: f.Path, Err: fmt.Errorf("no columns %s", strings.Join(missing, "; "))}
		}
	}
	return nil
}

// isApplicant reports whether a request parameter is a column of the
// applicant's identity.
func isApplicant(param string) bool {
	switch param {
	case transform.ParamName, transform.ParamIDCard, transform.ParamMobile:
		return true
	}
	return false
}

func needVerb(n int) string {
	if n == 1 {
		return "needs"
	}
	return "need"
}
