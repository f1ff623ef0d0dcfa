package transform_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/transform"
)

// benchApplicants returns n made-up applicants as an input file gives them,
// before normalisation.
func benchApplicants(tb testing.TB, n int) []transform.Applicant {
	tb.Helper()
	var buf bytes.Buffer
	if err := tianyuantest.WriteApplicants(&buf, n, 1); err != nil {
		tb.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	// application_id,姓名,身份证号,手机号,授权书编号,authorization_url,auth_date,apply_date,label
	out := make([]transform.Applicant, 0, n)
	for _, r := range rows[1:] {
		out = append(out, transform.Applicant{Name: r[1], IDCard: r[2], Mobile: r[3], AuthCode: r[4], AuthURL: r[5], AuthDate: r[6]})
	}
	return out
}

var benchToday = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkValidate is what a run does to validate one applicant row:
// Normalize, the authorization check for both products, the identity key.
func BenchmarkValidate(b *testing.B) {
	apps := benchApplicants(b, 1000)
	keyer, err := transform.NewKeyer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	params := [][]string{
		{"name", "id_card", "mobile_no", "auth_authorize_file_code"},
		{"name", "id_card", "mobile_no", "authorization_url", "auth_date"},
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		app, problems := transform.Normalize(apps[i], benchToday)
		if problems != nil {
			b.Fatalf("row %d: %d problems", i, len(problems))
		}
		for _, p := range params {
			if reason := transform.Authorization(&app, p, benchToday); reason != "" {
				b.Fatalf("row %d: %s", i, reason)
			}
		}
		_ = keyer.Key(&app)
		if i++; i == len(apps) {
			i = 0
		}
	}
}

// BenchmarkNormalize is Normalize alone.
func BenchmarkNormalize(b *testing.B) {
	apps := benchApplicants(b, 1000)
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		if _, problems := transform.Normalize(apps[i], benchToday); problems != nil {
			b.Fatalf("row %d: %d problems", i, len(problems))
		}
		if i++; i == len(apps) {
			i = 0
		}
	}
}

// BenchmarkKey is Keyer.Key alone.
func BenchmarkKey(b *testing.B) {
	apps := benchApplicants(b, 1000)
	keyer, err := transform.NewKeyer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		_ = keyer.Key(&apps[i])
		if i++; i == len(apps) {
			i = 0
		}
	}
}

// BenchmarkMask masks the name, ID number and mobile of a row, as the
// output does unless PII is kept.
func BenchmarkMask(b *testing.B) {
	apps := benchApplicants(b, 1000)
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		a := &apps[i]
		_, _, _ = transform.MaskName(a.Name), transform.MaskIDCard(a.IDCard), transform.MaskMobile(a.Mobile)
		if i++; i == len(apps) {
			i = 0
		}
	}
}

// BenchmarkPassthrough reads the passed-through columns of the bench
// configuration: a date and an integer.
func BenchmarkPassthrough(b *testing.B) {
	dates := []string{"2026-07-05", "2026-01-28", "2026-10-01"}
	labels := []string{"0", "1", "0"}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		if _, err := transform.ParseDate(dates[i]); err != nil {
			b.Fatal(err)
		}
		if _, err := transform.ParseInt(labels[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(dates) {
			i = 0
		}
	}
}

// BenchmarkMaskIdentity is BenchmarkMask with MaskIdentity.
func BenchmarkMaskIdentity(b *testing.B) {
	apps := benchApplicants(b, 1000)
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		a := &apps[i]
		_, _, _ = transform.MaskIdentity(a.Name, a.IDCard, a.Mobile)
		if i++; i == len(apps) {
			i = 0
		}
	}
}
