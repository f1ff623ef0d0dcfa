package pipeline_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
)

// TestComboAnswerFormsGiveTheSameFeatures: COMBTY11's sub-product answers
// sent with data as a JSON string holding the object, success as a string
// or a number, and answers of sub-products the catalog does not list, give
// the same features, statuses and sub-product outcomes as the default
// answers, in the envelope and in the plain shape; the unknown sub-products
// are counted in the manifest, once per answer read.
func TestComboAnswerFormsGiveTheSameFeatures(t *testing.T) {
	forms := []struct {
		name   string
		shapes tianyuantest.Shapes
	}{
		{"default", tianyuantest.Shapes{SubFailure: 0.2}},
		{"data as strings, success as strings", tianyuantest.Shapes{SubFailure: 0.2, SubDataAsString: true, SubSuccess: tianyuantest.SuccessString}},
		{"plain, data as strings, success as numbers", tianyuantest.Shapes{Combo: tianyuantest.ComboPlain, SubFailure: 0.2,
			SubDataAsString: true, SubSuccess: tianyuantest.SuccessNumber}},
		{"envelope data as a string, sub-product data as strings, success as digits, two unknown sub-products",
			tianyuantest.Shapes{DataAsString: true, SubFailure: 0.2, SubDataAsString: true, SubSuccess: tianyuantest.SuccessDigit, ExtraSubs: 2}},
	}
	var (
		first     [][]string
		firstSubs any
	)
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			v, client := fakeVendor(t, tianyuantest.Options{Shapes: form.shapes})
			cfg := sampleConfig(t)
			cfg.Output.Formats = []string{config.FormatCSV}
			m, _ := pipeline.Run(context.Background(), cfg, env(client)) // exit 2: some sub-products failed
			p := m.Products["COMBTY11"]
			if p == nil || p.OK == 0 || p.Calls != v.Requests("COMBTY11") {
				t.Fatalf("COMBTY11 %+v, %d requests: want ok rows and one request per call", p, v.Requests("COMBTY11"))
			}
			if sub := p.SubProducts["DWBG8B4D"]; sub == nil || sub.OK == 0 || sub.Failed == 0 {
				t.Errorf("DWBG8B4D outcomes %+v, want some ok and some failed", sub)
			}
			answered := p.OK + p.NoRecord + p.Failed // every row is filled from a reply
			for i := 1; i <= 2; i++ {
				name := "COMBTY11." + tianyuantest.ExtraSub(i)
				want := int64(0)
				if i <= form.shapes.ExtraSubs {
					want = int64(answered)
				}
				if got := m.Unknowns.Fields[name]; got != want {
					t.Errorf("unknowns %s = %d, want %d (rows answered: %d)", name, got, want, answered)
				}
			}
			got := featuresWithoutCallColumns(t, cfg.Output.Dir)
			if first == nil {
				first, firstSubs = got, p.SubProducts
				return
			}
			if i := firstDifference(got, first); i >= 0 {
				t.Errorf("features differ from the default answers' from row %d:\n%v\n%v", i, got[min(i, len(got)-1)], first[min(i, len(first)-1)])
			}
			if !reflect.DeepEqual(p.SubProducts, firstSubs) {
				t.Errorf("sub-product outcomes %v, want %v", p.SubProducts, firstSubs)
			}
		})
	}
}
