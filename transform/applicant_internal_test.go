package transform

import (
	"strings"
	"testing"
)

// checkNameIsNormal compares nameIsNormal with what it stands for.
func checkNameIsNormal(t *testing.T, s string) {
	t.Helper()
	if got, want := nameIsNormal(s), strings.Join(strings.Fields(s), " ") == s; got != want {
		t.Fatalf("nameIsNormal(%q) = %v, want %v", s, got, want)
	}
}

func TestNameIsNormal(t *testing.T) {
	for _, s := range []string{
		"", " ", "张三", "Li Lei", " Li", "Li ", "Li  Lei", "Li\tLei", "Li\r\nLei", "张\u3000三",
		"张\u00a0三", "张\u0085三", "\u2028", "欧阳 娜娜", "\xff", "\xff \xfe", "a b c", "a\vb", "a\fb",
	} {
		checkNameIsNormal(t, s)
	}
}

func FuzzNameIsNormal(f *testing.F) {
	for _, s := range []string{"张三", "Li Lei", " Li  Lei ", "张\u3000三", "\xff \xfe"} {
		f.Add(s)
	}
	f.Fuzz(checkNameIsNormal)
}
