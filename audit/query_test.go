package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// logOf writes entries as a log.
func logOf(entries ...*Entry) []byte {
	var b []byte
	for _, e := range entries {
		b = e.AppendJSON(b)
	}
	return b
}

func request(run string, no int64, key string, at time.Time) *Entry {
	return &Entry{Time: at, RunID: run, Event: EventRequest, RequestNo: no, Product: "JRZQ9E2A", ApplicantKey: key,
		AuthCode: "AUTH-" + key, Source: SourceVendor, Billed: BilledPossibly}
}

func result(run string, no int64, key string, at time.Time, code int, outcome, billed string) *Entry {
	return &Entry{Time: at, RunID: run, Event: EventResult, RequestNo: no, Product: "JRZQ9E2A", ApplicantKey: key,
		AuthCode: "AUTH-" + key, Source: SourceVendor, TransactionID: fmt.Sprintf("T-%s-%d", run, no), Code: &code,
		Outcome: outcome, Billed: billed}
}

// summary is a query in a few words: key@run source outcome billed.
func summary(q *Query) string {
	return fmt.Sprintf("%s@%s %s %s %s", q.ApplicantKey, q.RunID, q.Source, q.Outcome, q.Billed)
}

func TestScan(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	log := logOf(
		request("r1", 1, "alice", at(0)),
		request("r1", 2, "bob", at(1)),
		result("r1", 2, "bob", at(2), 0, OutcomeOK, BilledYes),
		result("r1", 1, "alice", at(3), 0, OutcomeOK, BilledYes),
		&Entry{Time: at(4), RunID: "r1", Event: EventReuse, Product: "JRZQ9E2A", ApplicantKey: "alice", AuthCode: "AUTH-2",
			Source: SourceRun, TransactionID: "T-r1-1", Code: intp(0), Outcome: OutcomeOK, Billed: BilledNo},
		request("r2", 1, "carol", at(60)),
		result("r2", 1, "carol", at(61), 1001, OutcomeFailed, BilledNo),
		request("r2", 2, "carol", at(62)),
		reuse("r3", "alice", at(120)),
		request("r3", 1, "bob", at(121)), // killed before the result
	)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all", Filter{}, []string{
			"bob@r1 vendor ok yes", "alice@r1 vendor ok yes", "alice@r1 run ok no", "carol@r2 vendor failed no",
			"alice@r3 store ok no", "carol@r2 vendor unknown possibly", "bob@r3 vendor unknown possibly"}},
		{"an applicant", Filter{ApplicantKeys: []string{"alice"}}, []string{
			"alice@r1 vendor ok yes", "alice@r1 run ok no", "alice@r3 store ok no"}},
		{"two applicants", Filter{ApplicantKeys: []string{"bob", "carol"}}, []string{
			"bob@r1 vendor ok yes", "carol@r2 vendor failed no", "carol@r2 vendor unknown possibly", "bob@r3 vendor unknown possibly"}},
		{"a run", Filter{RunID: "r2"}, []string{"carol@r2 vendor failed no", "carol@r2 vendor unknown possibly"}},
		{"a run and an applicant", Filter{RunID: "r1", ApplicantKeys: []string{"bob"}}, []string{"bob@r1 vendor ok yes"}},
		{"since", Filter{Since: at(60)}, []string{"carol@r2 vendor failed no", "alice@r3 store ok no",
			"carol@r2 vendor unknown possibly", "bob@r3 vendor unknown possibly"}},
		{"until (by the request's time)", Filter{Until: at(1)}, []string{"alice@r1 vendor ok yes"}},
		{"a range", Filter{Since: at(4), Until: at(121)}, []string{"alice@r1 run ok no", "carol@r2 vendor failed no",
			"alice@r3 store ok no", "carol@r2 vendor unknown possibly"}},
		{"nobody", Filter{ApplicantKeys: []string{"dave"}}, nil},
		{"many applicants", Filter{ApplicantKeys: manyKeys("alice", 40)}, []string{
			"alice@r1 vendor ok yes", "alice@r1 run ok no", "alice@r3 store ok no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			st, err := Scan(bytes.NewReader(log), tt.f, func(q *Query) error { got = append(got, summary(q)); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("queries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if st.Lines != 10 || st.Damaged != 0 || st.Queries != int64(len(tt.want)) {
				t.Errorf("stats %+v, want 10 lines, 0 damaged, %d queries", st, len(tt.want))
			}
		})
	}
}

func manyKeys(key string, n int) []string {
	keys := []string{key}
	for i := range n {
		keys = append(keys, fmt.Sprintf("other-%d", i))
	}
	return keys
}

func TestScanJoinsRequestAndResult(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	log := logOf(request("r", 1, "k", t0), result("r", 1, "k", t0.Add(150*time.Millisecond), 0, OutcomeOK, BilledYes))
	var got []*Query
	st, err := Scan(bytes.NewReader(log), Filter{}, func(q *Query) error { got = append(got, q); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d queries, want 1", len(got))
	}
	q := got[0]
	want := Query{Time: t0, RunID: "r", Product: "JRZQ9E2A", ApplicantKey: "k", AuthCode: "AUTH-k", Source: SourceVendor,
		RequestNo: 1, TransactionID: "T-r-1", Outcome: OutcomeOK, Billed: BilledYes, AnsweredAt: t0.Add(150 * time.Millisecond)}
	code := q.Code
	q.Code = nil
	if *q != want || code == nil || *code != 0 {
		t.Errorf("query %+v (code %v), want %+v (code 0)", *q, code, want)
	}
	if st.Requests != 1 || st.Billed != 1 || st.Reuses != 0 {
		t.Errorf("stats %+v, want 1 request, 1 billed", st)
	}
}

func TestScanSkipsDamagedLines(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	good := logOf(reuse("r", "a", t0))
	var log []byte
	log = append(log, good...)
	log = append(log, "not json\n"...)
	log = append(log, good[:len(good)/2]...) // cut short, then a newline
	log = append(log, '\n')
	log = append(log, "\n\n  \n"...) // blank lines are not damaged
	log = append(log, `{"time":"2026-01-01T00:00:00.000Z","run_id":"r","event":"reuse"}`+"\n"...)
	log = append(log, bytes.Repeat([]byte("x"), maxLine+10)...) // too long
	log = append(log, '\n')
	log = append(log, logOf(reuse("r", "b", t0))...)
	log = append(log, good[:20]...) // cut short at the end
	for _, tt := range []struct {
		name    string
		f       Filter
		want    string
		damaged int64
	}{
		// Lines cut short, not JSON or too long are counted whatever the
		// filter; one that starts and ends as the log writes them (the
		// line without a product) only when the filter looks at it.
		{"all", Filter{}, "a,b", 5},
		{"an applicant", Filter{ApplicantKeys: []string{"b"}}, "b", 4},
		{"a run", Filter{RunID: "r"}, "a,b", 5},
		{"a time range", Filter{Since: t0}, "a,b", 4},
		{"an empty time range", Filter{Until: t0}, "", 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			st, err := Scan(bytes.NewReader(log), tt.f, func(q *Query) error { keys = append(keys, q.ApplicantKey); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(keys, ",") != tt.want {
				t.Errorf("queries %v, want %s", keys, tt.want)
			}
			if st.Damaged != tt.damaged || st.Lines != 7 {
				t.Errorf("stats %+v, want %d damaged of 7 lines", st, tt.damaged)
			}
		})
	}
}

func TestScanStopsOnEmitError(t *testing.T) {
	stop := errors.New("stop")
	log := logOf(reuse("r", "a", time.Unix(1, 0)), reuse("r", "b", time.Unix(2, 0)))
	n := 0
	_, err := Scan(bytes.NewReader(log), Filter{}, func(*Query) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Scan = %v after %d queries, want stop after 1", err, n)
	}
}

func TestScanReadError(t *testing.T) {
	broken := errors.New("disk gone")
	r := io.MultiReader(bytes.NewReader(logOf(reuse("r", "a", time.Unix(1, 0)))), errReader{broken})
	_, err := Scan(r, Filter{}, func(*Query) error { return nil })
	if !errors.Is(err, broken) {
		t.Errorf("Scan of a failing reader = %v, want the read error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestScanBoundsPendingRequests(t *testing.T) {
	// Requests without results (runs killed mid-request) are held until
	// the end, at most maxPending at a time.
	var b bytes.Buffer
	n := maxPending + 10
	for i := range n {
		b.Write(request("r", int64(i+1), "k", time.Unix(int64(i), 0)).AppendJSON(nil))
	}
	b.Write(result("r", int64(n), "k", time.Unix(int64(n), 0), 0, OutcomeOK, BilledYes).AppendJSON(nil))
	var got []*Query
	st, err := Scan(&b, Filter{}, func(q *Query) error { got = append(got, q); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || st.Requests != int64(n) {
		t.Fatalf("%d queries, want %d", len(got), n)
	}
	joined := 0
	for _, q := range got {
		if q.Outcome == OutcomeOK {
			joined++
			if q.RequestNo != int64(n) {
				t.Errorf("request %d joined, want %d", q.RequestNo, n)
			}
		}
	}
	if joined != 1 {
		t.Errorf("%d requests joined to a result, want 1", joined)
	}
}

// FuzzScan feeds the reader and the query anything: a damaged line is
// skipped and counted, never fatal, and every line is either a query's or
// damaged.
func FuzzScan(f *testing.F) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.Add(logOf(request("r", 1, "k", t0), result("r", 1, "k", t0, 0, OutcomeOK, BilledYes), reuse("r", "k", t0)))
	f.Add([]byte("{\n}\n\"\n[]\n{\"time\":\"2026-01-01T00:00:00.000Z\"}\n"))
	f.Add(append(logOf(reuse("r", "k", t0))[:30], '\n'))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00.000Z","run_id":"r","event":"result","request_no":1,"product":"P"}`))
	f.Add([]byte{0xff, '\n', 0, '\r', '\n'})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, flt := range []Filter{{}, {ApplicantKeys: []string{"k"}}, {RunID: "r"}, {Since: t0}} {
			queries := 0
			st, err := Scan(bytes.NewReader(data), flt, func(q *Query) error {
				queries++
				if q.Outcome == "" || q.Billed == "" || q.Source == "" {
					t.Errorf("query %+v lacks outcome, billed or source", q)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Scan = %v, want damaged lines skipped", err)
			}
			if st.Queries != int64(queries) || st.Damaged > st.Lines {
				t.Errorf("stats %+v with %d queries", st, queries)
			}
			if flt.RunID == "" && len(flt.ApplicantKeys) == 0 && flt.Since.IsZero() {
				// Every line read is damaged or part of a query: a
				// query has one line, or two (a request and its result).
				if st.Damaged+st.Queries > st.Lines || st.Damaged+2*st.Queries < st.Lines {
					t.Errorf("stats %+v: lines neither damaged nor queries", st)
				}
			}
		}
	})
}
