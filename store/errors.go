package store

import "fmt"

// SecretError says the store was filled with another identity secret: with
// the one given, none of its replies would be found, and every row would
// be paid for again.
type SecretError struct {
	Path string
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("the reply store %s was filled with another identity secret: "+
		"with this one none of its replies would be found and every row would be paid for again; use the secret the store "+
		"was filled with (identity.secret_file or SCOREPIPE_IDENTITY_SECRET), or another cache.path", e.Path)
}
