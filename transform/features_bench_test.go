package transform_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/mappings"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/transform"
)

// benchRow is a transform.RowWriter over a reusable slice, as a sink's row
// buffer would be: setting a cell does not allocate.
type benchRow []benchCell

type benchCell struct {
	kind int8 // 0 null, 1 string, 2 int, 3 float, 4 time
	s    string
	n    int64
	f    float64
	t    time.Time
}

var _ transform.RowWriter = benchRow(nil)

func (r benchRow) SetNull(i int)              { r[i].kind = 0 }
func (r benchRow) SetString(i int, s string)  { r[i].kind, r[i].s = 1, s }
func (r benchRow) SetInt(i int, v int64)      { r[i].kind, r[i].n = 2, v }
func (r benchRow) SetFloat(i int, v float64)  { r[i].kind, r[i].f = 3, v }
func (r benchRow) SetTime(i int, t time.Time) { r[i].kind, r[i].t = 4, t }

// syntheticParams returns valid request parameters for product and
// synthetic applicant i: a checksummed id card, a mobile number and the
// product's authorization fields.
func syntheticParams(product string, i int) map[string]string {
	first17 := fmt.Sprintf("1101011990%02d%02d%03d", 1+i%12, 1+i%28, i%1000)
	p := map[string]string{
		"name":      fmt.Sprintf("测试%d", i),
		"id_card":   first17 + string(transform.IDCheckChar(first17)),
		"mobile_no": fmt.Sprintf("138%08d", i),
	}
	switch product {
	case tianyuantest.ProductMultiLending:
		p["auth_authorize_file_code"] = fmt.Sprintf("AUTH%06d", i)
	case tianyuantest.ProductRiskReport:
		p["authorization_url"] = "https://oss.example.com/auth/1.pdf"
		p["auth_date"] = "20250101-20251231"
	}
	return p
}

// syntheticPayloads returns the fake vendor's payloads for n applicants.
func syntheticPayloads(tb testing.TB, product string, n, extraFields int) [][]byte {
	tb.Helper()
	out := make([][]byte, n)
	for i := range out {
		b, err := tianyuantest.SyntheticPayload(product, syntheticParams(product, i), extraFields)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func loadProduct(tb testing.TB, product string) *transform.Product {
	tb.Helper()
	set, err := mappings.Load("")
	if err != nil {
		tb.Fatalf("mappings.Load(\"\") = %v", err)
	}
	c, err := set.Catalog(product)
	if err != nil {
		tb.Fatal(err)
	}
	return transform.NewProduct(c)
}

func benchmarkFill(b *testing.B, product string, extraFields int) {
	p := loadProduct(b, product)
	payloads := syntheticPayloads(b, product, 1000, extraFields)
	size := 0
	for _, pl := range payloads {
		size += len(pl)
	}
	replies := make([]transform.Reply, len(payloads))
	for i, pl := range payloads {
		replies[i] = transform.Reply{Status: transform.StatusOK, HasCode: true, TransactionID: "T-1",
			QueriedAt: time.Date(2024, 6, 1, 8, 30, 0, 0, time.UTC), Payload: pl}
	}
	var row transform.RowWriter = make(benchRow, len(p.Columns())) // once: a slice in an interface is an allocation
	subs := make([]transform.Status, len(p.Catalog().Subs))
	var u transform.Unknowns
	b.SetBytes(int64(size / len(payloads)))
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		p.FillSubs(row, 0, &replies[i], &u, subs)
		if i++; i == len(replies) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkFillJRZQ9E2A(b *testing.B) { benchmarkFill(b, tianyuantest.ProductMultiLending, 0) }

func BenchmarkFillCOMBTY11(b *testing.B) { benchmarkFill(b, tianyuantest.ProductRiskReport, 0) }

// BenchmarkFillUnknowns: JRZQ9E2A replies of the size the vendor sends, a
// few hundred factors of which the catalog lists 17: the rest are counted.
func BenchmarkFillUnknowns(b *testing.B) {
	benchmarkFill(b, tianyuantest.ProductMultiLending, 300)
}
