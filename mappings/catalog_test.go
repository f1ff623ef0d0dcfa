package mappings

import "testing"

func TestColumnName(t *testing.T) {
	tests := []struct {
		sub, path string
		want      string
	}{
		{"DWBG8B4D", "overdueRiskProduct.currentOverdueAmount", "dwbg8b4d_overdue_risk_product_current_overdue_amount"},
		{"DWBG8B4D", "riskWarning.hasCriminalRecord", "dwbg8b4d_risk_warning_has_criminal_record"},
		{"DWBG8B4D", "fraudScore", "dwbg8b4d_fraud_score"},
		{"FLXG0V4B", "sxbzxr", "flxg0v4b_sxbzxr"},
		{"FLXG0V4B", "entout.data.criminal.cases", "flxg0v4b_entout_data_criminal_cases"},
		{"", "xyp_cpl0001", "xyp_cpl0001"},
		{"", "xyp_model_score_high", "xyp_model_score_high"},
	}
	for _, tt := range tests {
		if got := columnName(tt.sub, tt.path); got != tt.want {
			t.Errorf("columnName(%q, %q) = %q, want %q", tt.sub, tt.path, got, tt.want)
		}
	}
}

func TestSnake(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"overdueRiskProduct.currentOverdueAmount", "overdue_risk_product_current_overdue_amount"},
		{"riskWarning.hasCriminalRecord", "risk_warning_has_criminal_record"},
		{"xyp_cpl0001", "xyp_cpl0001"},
		{"score2Value", "score2_value"},
		{"a..b", "a_b"},
		{"a-b c", "a_b_c"},
		{"_lead.trail_", "lead_trail"},
		{"HTTPCode", "httpcode"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := snake(tt.in); got != tt.want {
			t.Errorf("snake(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
