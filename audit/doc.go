// Package audit keeps the consent audit trail: an append-only log of every
// request sent to the vendor and every stored reply reused, saying who was
// queried (the applicant's key, never a raw identity), when, under which
// authorization, with what result, and whether it was billed.
//
// # On disk
//
// audit.jsonl in the state directory, beside the reply store: JSON lines,
// mode 0600 in a directory made 0700, and audit.jsonl.lock, held with
// flock by the one process that has the log open (Open fails at once with
// an *InUseError otherwise). The lock is a file of its own so that it
// holds while Prune replaces the log.
//
// Each line is one Entry, its fields in a fixed order, the time first:
//
//	{"time":"2026-05-04T08:00:01.250Z","run_id":"…","event":"request","request_no":7,"product":"JRZQ9E2A",
//	 "applicant_key":"3f…","auth_authorize_file_code":"AUTH0001","source":"vendor","billed":"possibly"}
//	{"time":"2026-05-04T08:00:01.410Z","run_id":"…","event":"result","request_no":7,"product":"JRZQ9E2A",
//	 "applicant_key":"3f…","auth_authorize_file_code":"AUTH0001","source":"vendor","transaction_id":"T…",
//	 "code":0,"outcome":"ok","billed":"yes"}
//	{"time":"2026-06-01T02:00:00.003Z","run_id":"…","event":"reuse","product":"JRZQ9E2A","applicant_key":"3f…",
//	 "auth_authorize_file_code":"AUTH0001","source":"store","transaction_id":"T…","code":0,"outcome":"ok",
//	 "billed":"no","replied_at":"2026-05-04T08:00:01.410Z"}
//
// A request sent to the vendor gives two lines, linked by run_id and
// request_no: "request", written before it is sent, and "result", what
// came of it. Every HTTP attempt is a request of its own (a retried call
// gives several). A reply reused gives one "reuse" line: source "store"
// for a reply an earlier run paid for, "run" for one paid for earlier in
// the same run for an identical applicant (the same person in another
// row, under that row's authorization). Every line is whole on its own:
// the result repeats the request's applicant and authorization. A run
// writes its lines through a Recorder, which makes them from what the
// vendor client was asked and returned.
//
// # What it guarantees
//
//   - No request the vendor may bill is missing. The request line is
//     synced before the request is sent, and the result line before the
//     reply is stored; a run killed at any moment leaves every request it
//     sent on disk, those whose result was not recorded read as outcome
//     "unknown", billed "possibly".
//   - Reuse lines are synced within a second (Options.SyncEvery), with the
//     next request's sync, and before a run publishes its outputs: a run
//     killed before publishing may lose the reuse lines of its last
//     second, but no published output holds data whose use is not
//     recorded.
//   - No raw identity: the applicant is its key (an HMAC of the normalised
//     identity with the identity secret, the applicant_key column of the
//     outputs); the authorization reference is written as the row carried
//     it, with the applicant's ID number, mobile and name masked should
//     it hold them.
//   - A damaged line (a crash in the middle of a write, an edit by hand) is
//     skipped and counted by readers, never fatal; a line cut short at
//     the end is ended when the log is next opened.
//
// # What it costs
//
// Some 300 bytes a line. A request waits for one fsync before it is sent
// and one after its reply, each shared by every request in flight at the
// time (group commit): on a disk that syncs in 1 to 5 ms, a few ms of a
// call that takes the vendor 100 ms or more. A reuse is formatted and
// copied into memory, about half a microsecond, and written in batches.
// Scan reads the whole log in constant memory; Prune reads it and, when
// lines go, writes the rest once.
package audit
