package tianyuantest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Product codes the fake knows.
const (
	ProductMultiLending = "JRZQ9E2A"
	ProductRiskReport   = "COMBTY11"
)

// requiredParams lists each known product's required parameters.
var requiredParams = map[string][]string{
	ProductMultiLending: {"name", "id_card", "mobile_no", "auth_authorize_file_code"},
	ProductRiskReport:   {"name", "id_card", "mobile_no", "authorization_url", "auth_date"},
}

// JRZQ9E2AFactors are the factor names the fake emits for JRZQ9E2A (before
// any Options.ExtraFields).
var JRZQ9E2AFactors = []string{
	"xyp_cpl0001", "xyp_cpl0002", "xyp_cpl0007", "xyp_cpl0008",
	"xyp_cpl0009", "xyp_cpl0011", "xyp_cpl0070", "xyp_cpl0071",
	"xyp_cpl0039", "xyp_cpl0072",
	"xyp_cpl0044", "xyp_cpl0028", "xyp_cpl0031",
	"xyp_cpl0081",
	"xyp_model_score_high", "xyp_model_score_mid", "xyp_model_score_low",
}

// ExtraFactor names the i-th (from 1) extra factor the fake adds with
// Options.ExtraFields: xyp_cpl9001, xyp_cpl9002, ...
func ExtraFactor(i int) string { return fmt.Sprintf("xyp_cpl%04d", 9000+i) }

// SyntheticPayload returns the plaintext JSON object the fake answers for
// product and params: the same applicant (product, id_card, name,
// mobile_no) always gets the same bytes. extraFields is as in
// [Options.ExtraFields].
func SyntheticPayload(product string, params map[string]string, extraFields int) ([]byte, error) {
	sum := sha256.Sum256([]byte(product + "|" + params["id_card"] + "|" + params["name"] + "|" + params["mobile_no"]))
	r := rand.New(rand.NewChaCha8(sum))
	switch product {
	case ProductMultiLending:
		return json.Marshal(multiLending(r, extraFields))
	case ProductRiskReport:
		return json.Marshal(riskReport(r))
	}
	return nil, fmt.Errorf("tianyuantest: unknown product %q", product)
}

// pick returns an index drawn with the given weights.
func pick(r *rand.Rand, weights ...float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	u := r.Float64() * total
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// atMost returns an interval code in 1..c, lower codes likelier.
func atMost(r *rand.Rand, c int) int {
	w := make([]float64, c)
	for i := range w {
		w[i] = 1 / float64(i+1) / float64(i+1)
	}
	return 1 + pick(r, w...)
}

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

func multiLending(r *rand.Rand, extra int) map[string]string {
	out := make(map[string]string, len(JRZQ9E2AFactors)+extra)
	if chance(r, 0.10) { // found nothing: every factor present and empty
		for _, f := range JRZQ9E2AFactors {
			out[f] = ""
		}
		for i := 1; i <= extra; i++ {
			out[ExtraFactor(i)] = ""
		}
		return out
	}
	itoa := strconv.Itoa
	c0001 := 1 + pick(r, 40, 25, 15, 10, 6, 4)
	c0011 := atMost(r, c0001)
	c0009 := atMost(r, c0011)
	c0070 := atMost(r, c0009)
	out["xyp_cpl0001"] = itoa(c0001)
	out["xyp_cpl0002"] = itoa(atMost(r, c0001))
	out["xyp_cpl0007"] = itoa(atMost(r, c0001))
	out["xyp_cpl0008"] = itoa(atMost(r, c0001))
	out["xyp_cpl0011"] = itoa(c0011)
	out["xyp_cpl0009"] = itoa(c0009)
	out["xyp_cpl0070"] = itoa(c0070)

	overdue := chance(r, 0.12)
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	out["xyp_cpl0044"] = flag(overdue)
	recent30 := overdue && chance(r, 0.6) || chance(r, 0.04)
	out["xyp_cpl0031"] = flag(recent30)
	out["xyp_cpl0028"] = flag(recent30 && chance(r, 0.2))
	switch {
	case overdue:
		out["xyp_cpl0071"] = itoa(1 + pick(r, 85, 15))
		out["xyp_cpl0072"] = itoa(1 + pick(r, 30, 20, 20, 12, 8, 5, 3, 2))
	case chance(r, 0.3):
		out["xyp_cpl0071"] = "1"
		out["xyp_cpl0072"] = "1"
	default:
		out["xyp_cpl0071"] = ""
		out["xyp_cpl0072"] = ""
	}
	out["xyp_cpl0039"] = itoa(1 + pick(r, 15, 20, 20, 15, 12, 8, 6, 4))
	risk := r.Float64() * r.Float64()
	if overdue {
		risk = 1 - risk
	}
	out["xyp_cpl0081"] = strconv.FormatFloat(risk, 'f', 4, 64)
	for _, f := range []string{"xyp_model_score_high", "xyp_model_score_mid", "xyp_model_score_low"} {
		if chance(r, 0.15) {
			out[f] = "-1"
		} else {
			out[f] = itoa(350 + r.IntN(601))
		}
	}
	for _, f := range JRZQ9E2AFactors { // individual values missing
		if chance(r, 0.05) {
			out[f] = ""
		}
	}
	for i := 1; i <= extra; i++ {
		out[ExtraFactor(i)] = itoa(1 + r.IntN(6))
	}
	return out
}

func riskReport(r *rand.Rand) map[string]any {
	return map[string]any{"responses": []any{
		map[string]any{"api_code": "DWBG8B4D", "success": true, "data": multiDimensional(r)},
		judicial(r),
	}}
}

func multiDimensional(r *rand.Rand) map[string]any {
	bit := func(p float64) int {
		if chance(r, p) {
			return 1
		}
		return 0
	}
	warn := map[string]int{
		"hasCriminalRecord":         bit(0.02),
		"isKeyPerson":               bit(0.01),
		"hitExecutionCase":          bit(0.05),
		"hitCurrentOverdue":         bit(0.10),
		"frequentApplicationRecent": bit(0.15),
		"isTrafficRelated":          bit(0.05),
	}
	total := 0
	for _, v := range warn {
		total += v
	}
	total += pick(r, 80, 12, 5, 3) // risk points outside the listed flags
	rw := map[string]any{"totalRiskCounts": total}
	for k, v := range warn {
		rw[k] = v
	}

	fraud := r.IntN(60)
	if chance(r, 0.2) {
		fraud = 40 + r.IntN(61)
	}
	credit := 300 + r.IntN(701)
	if chance(r, 0.05) {
		credit = -1
	}
	suggest, rule := "建议通过", "低风险"
	switch {
	case fraud >= 80 || total >= 3:
		suggest, rule = "建议拒绝", "高风险"
	case fraud >= 50 || total >= 1:
		suggest, rule = "建议复审", "中风险"
	}

	overdue := map[string]any{
		"hasUnsettledOverdue":            "未逾期",
		"currentOverdueAmount":           "",
		"currentOverdueInstitutionCount": "0",
		"totalLoanInstitutions":          []string{"[1,5)", "[5,10)", "10+"}[pick(r, 60, 28, 12)],
	}
	if warn["hitCurrentOverdue"] == 1 {
		overdue["hasUnsettledOverdue"] = "逾期"
		overdue["currentOverdueAmount"] = []string{"(0,1000)", "[1000,5000)", "[5000,10000)", "(10000,+∞)"}[pick(r, 40, 30, 18, 12)]
		overdue["currentOverdueInstitutionCount"] = []string{"(0,1]", "(1,3]", "(3,+∞)"}[pick(r, 60, 30, 10)]
	}
	return map[string]any{
		"fraudScore":         fraud,
		"creditScore":        credit,
		"checkSuggest":       suggest,
		"fraudRule":          rule,
		"riskWarning":        rw,
		"overdueRiskProduct": overdue,
	}
}

var (
	courts  = []string{"京0105", "沪0115", "粤0304", "浙0106", "川0107", "鄂0102"}
	crimes  = []string{"盗窃罪", "诈骗罪", "危险驾驶罪", "故意伤害罪", "帮助信息网络犯罪活动罪"}
	results = []string{"有期徒刑六个月", "拘役三个月", "有期徒刑一年，缓刑一年", "罚金人民币五千元"}
)

func caseNumber(r *rand.Rand, kind string) string {
	return fmt.Sprintf("(%d)%s%s%d号", 2018+r.IntN(7), courts[r.IntN(len(courts))], kind, 100+r.IntN(9900))
}

// judicial answers FLXG0V4B in the shape the vendor's documentation gives:
// the sxbzxr and xgbzxr lists, and entout.data holding criminal {dzzm
// 定罪罪名, pcjg 判处结果} and civil {n_qsbdje 起诉标的金额}; an object with
// nothing in it when there is no such case. Two charges come as a list;
// the amount claimed as interval text or as a number. It always succeeds:
// sub-product failures are asked for with Shapes.SubFailure.
func judicial(r *rand.Rand) map[string]any {
	dishonest := []any{}
	for range pick(r, 88, 7, 3, 2) {
		dishonest = append(dishonest, map[string]any{
			"ah":   caseNumber(r, "执"),
			"lxqk": []string{"全部未履行", "部分未履行"}[r.IntN(2)],
		})
	}
	restricted := []any{}
	for range pick(r, 90, 7, 3) {
		restricted = append(restricted, map[string]any{
			"ah":   caseNumber(r, "执"),
			"fbrq": fmt.Sprintf("%d-%02d-%02d", 2018+r.IntN(7), 1+r.IntN(12), 1+r.IntN(28)),
		})
	}
	criminal := map[string]any{}
	switch pick(r, 94, 5, 1) {
	case 1:
		criminal["dzzm"] = crimes[r.IntN(len(crimes))]
		criminal["pcjg"] = results[r.IntN(len(results))]
	case 2:
		first := r.IntN(len(crimes))
		criminal["dzzm"] = []string{crimes[first], crimes[(first+1+r.IntN(len(crimes)-1))%len(crimes)]}
		criminal["pcjg"] = results[r.IntN(len(results))]
	}
	civil := map[string]any{}
	switch pick(r, 80, 10, 10) {
	case 1:
		civil["n_qsbdje"] = []string{"(0,1000)", "[1000,5000)", "[5000,10000)", "[10000,50000)", "[50000,+∞)"}[pick(r, 20, 30, 20, 20, 10)]
	case 2:
		civil["n_qsbdje"] = float64(100000+r.IntN(20000000)) / 100
	}
	return map[string]any{"api_code": "FLXG0V4B", "success": true, "data": map[string]any{
		"sxbzxr": dishonest,
		"xgbzxr": restricted,
		"entout": map[string]any{"data": map[string]any{"criminal": criminal, "civil": civil}},
	}}
}
