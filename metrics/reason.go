package metrics

// The reason label of NameInfo says why the last run ended as it did in
// one of these fixed phrases, never in a message: a label value is kept in
// every sample stored, and a message may quote a value of the data. The
// details are in the run's log and manifest.json (exit.reasons).
const (
	ReasonDone        = ""
	ReasonIncomplete  = "done, but incomplete (see exit.reasons in manifest.json)"
	ReasonUsage       = "usage, configuration or input error (see the log)"
	ReasonKeys        = "the baseline's applicant keys were made with another identity secret"
	ReasonInterrupted = "interrupted (resumable)"
	ReasonBudget      = "over budget: limits.max_calls or limits.max_cost (resumable)"
	ReasonPublish     = "could not publish the outputs (resumable, see the log)"
	ReasonLocked      = "the output folder or the reply store is in use by another run"
	ReasonNotAll      = "not every shard has published its part"
	ReasonStopped     = "stopped early (resumable, see the log)"
)

var reasons = map[string]bool{ReasonDone: true, ReasonIncomplete: true, ReasonUsage: true, ReasonKeys: true,
	ReasonInterrupted: true, ReasonBudget: true, ReasonPublish: true, ReasonLocked: true, ReasonNotAll: true, ReasonStopped: true}

// reasonLabel returns the reason label of a run: its Reason when that is
// one of the Reason phrases, else the phrase of its exit code.
func (r *Run) reasonLabel() string {
	if reasons[r.Reason] {
		return r.Reason
	}
	switch r.ExitCode {
	case 0:
		return ReasonDone
	case 2:
		return ReasonIncomplete
	case 3:
		return ReasonStopped
	}
	return ReasonUsage
}
