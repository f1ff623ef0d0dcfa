package tianyuan

// BilledAnswer reports whether a reply is a billed answer, worth keeping:
// code 0 without an error, or a code the policy classes as "no record".
func (p CodePolicy) BilledAnswer(r *Reply, err error) bool {
	return err == nil && r.Code == 0 || p.ClassifyCode(r.Code) == NoRecord
}
