package review

import (
	"fmt"

	"github.com/scorepipe/scorepipe/rundir"
)

// InputError is a review the runs given cannot make: a column it needs is
// missing, or the runs' applicant keys do not join. It is a user error
// (exit 1 for the review command); a run writing its review with its
// outputs publishes the rest and says why the review is missing.
type InputError struct {
	Msg string
}

func (e *InputError) Error() string { return "review: " + e.Msg }

// KeysError says that two runs' applicant keys were made with different
// identity secrets: no applicant of one would be found in the other.
type KeysError struct {
	Current, Baseline string // the runs' directories
}

func (e *KeysError) Error() string {
	return fmt.Sprintf("review: the applicant keys of %s and of the baseline %s were made with different identity secrets, "+
		"so no applicant would join: review against a baseline made with the same identity secret "+
		"(the same SCOREPIPE_IDENTITY_SECRET or identity.secret in the state directory), or rerun one of them with the other's", e.Current, e.Baseline)
}

// CheckKeys returns a *KeysError when the manifests of both runs record
// the check of their identity secret and the checks differ. A run whose
// manifest records none (an earlier version's) is not checked.
func CheckKeys(cur, base *rundir.Run) error {
	c, b := cur.Manifest.KeyCheck(), base.Manifest.KeyCheck()
	if c == "" || b == "" || c == b {
		return nil
	}
	return &KeysError{Current: cur.Dir, Baseline: base.Dir}
}
