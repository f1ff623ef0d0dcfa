package sources

import (
	"math/rand/v2"
	"testing"
)

// TestHasControl: the word-at-a-time scan finds what the byte-at-a-time
// one finds, at every offset and in every kind of text around it.
func TestHasControl(t *testing.T) {
	alphabet := [][]byte{[]byte("a"), []byte("7"), []byte(","), []byte("\t"), []byte("\r\n"), []byte("张"), []byte("\u00a0"),
		[]byte("\u0085"), []byte("\x00"), []byte("\x1b"), []byte("\x7f"), []byte("\u009f"), []byte("\u00c2"), []byte("~")}
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 4000 {
		var b []byte
		for range r.IntN(40) {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		if n%2 == 0 { // mostly printable ASCII, as records are
			b = append([]byte("110101199003074477,13800138000,AUTH0001,"), b...)
		}
		t.Run("", func(t *testing.T) {
			if got, want := hasControl(b), controlAt(b) >= 0; got != want {
				t.Errorf("hasControl(%q) = %v, want %v", b, got, want)
			}
		})
	}
}
