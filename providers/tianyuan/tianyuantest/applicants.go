package tianyuantest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

var (
	regions   = []string{"110101", "110105", "310104", "310115", "440305", "440106", "330106", "510107", "320102", "420106"}
	surnames  = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤")
	givens    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯健俊帆晨欣怡佳琪雪梅婷慧颖嘉子涵梓轩雨泽一诺思远")
	idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
)

// ApplicantsHeader is the header WriteApplicants writes.
const ApplicantsHeader = "application_id,姓名,身份证号,手机号,授权书编号,authorization_url,auth_date,apply_date,label"

// WriteApplicants writes n made-up applicants as CSV, with the header
// ApplicantsHeader: checksum-valid ID numbers, mobiles, names, the
// authorization both products need (valid from 2025 to 2035) and a label.
// The same n and seed give the same file; applicants repeat rarely.
func WriteApplicants(w io.Writer, n int, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	fmt.Fprintln(bw, ApplicantsHeader)
	id := make([]byte, 0, 18)
	for i := 1; i <= n; i++ {
		id = append(id[:0], regions[r.IntN(len(regions))]...)
		id = fmt.Appendf(id[:6], "%04d%02d%02d%03d", 1960+r.IntN(44), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
		sum := 0
		for k := 0; k < 17; k++ {
			sum += int(id[k]-'0') * idWeights[k]
		}
		id = append(id, "10X98765432"[sum%11])
		name := []rune{surnames[r.IntN(len(surnames))], givens[r.IntN(len(givens))]}
		if r.IntN(3) > 0 {
			name = append(name, givens[r.IntN(len(givens))])
		}
		app := fmt.Sprintf("APP%08d", i)
		_, err := fmt.Fprintf(bw, "%s,%s,%s,1%d%09d,AUTH%08d,https://auth.example.com/letters/%s.pdf,20250101-20351231,2026-%02d-%02d,%d\n",
			app, string(name), id, 3+r.IntN(7), r.IntN(1_000_000_000), i, app, 1+r.IntN(10), 1+r.IntN(28), boolInt(r.IntN(100) < 12))
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
