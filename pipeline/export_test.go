package pipeline

// SetPublishFault makes every run call f before each step of publishing
// (StepWrite steps, then publish.Step*); an error it returns fails that
// step. It returns the function that removes f.
func SetPublishFault(f func(step string) error) (undo func()) {
	publishBeforeStep = f
	return func() { publishBeforeStep = nil }
}

// StepWrite prefixes the steps that finish a file of the new set.
const StepWrite = stepWrite
