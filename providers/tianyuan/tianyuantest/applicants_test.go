package tianyuantest

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestWriteApplicants(t *testing.T) {
	var a, b bytes.Buffer
	if err := WriteApplicants(&a, 500, 7); err != nil {
		t.Fatal(err)
	}
	if err := WriteApplicants(&b, 500, 7); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("the same n and seed gave different files")
	}
	recs, err := csv.NewReader(&a).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0], ","), ApplicantsHeader; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	if got := len(recs) - 1; got != 500 {
		t.Fatalf("%d rows, want 500", got)
	}
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	for i, r := range recs[1:] {
		id, mobile := r[2], r[3]
		sum := 0
		for k, w := range weights {
			sum += int(id[k]-'0') * w
		}
		if len(id) != 18 || id[17] != "10X98765432"[sum%11] {
			t.Errorf("row %d: ID %s has a wrong check character", i+1, id)
		}
		if len(mobile) != 11 || mobile[0] != '1' {
			t.Errorf("row %d: mobile %s is not 11 digits starting with 1", i+1, mobile)
		}
		if r[1] == "" || r[4] == "" || r[5] == "" || r[6] != "20250101-20351231" {
			t.Errorf("row %d: missing name or authorization: %q", i+1, r)
		}
	}
}
