package sources

import (
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
	"github.com/xuri/nfp"
)

// dateKind is what a number format shows of a number: nothing of a date,
// a calendar date, a date and a time of day, or a time of day.
type dateKind uint8

const (
	notDate dateKind = iota
	dateOnly
	dateTime
	timeOnly
)

// The ISO 8601 forms a date cell is read as, whatever its number format
// shows ("01-05-26", "2026年1月5日", "1/5/2026 13:30"): a format's order of
// day and month is a matter of locale, and a two-digit year loses the
// century.
const (
	isoDate     = "2006-01-02"
	isoDateTime = "2006-01-02T15:04:05"
	isoTime     = "15:04:05"
)

// builtInDates are the built-in number formats (ECMA-376 part 1, 18.8.30,
// and the East Asian ones Excel writes in a Chinese locale) that show a
// date or a time of day. 45 to 47 show durations and stay as they are.
var builtInDates = map[int]dateKind{
	14: dateOnly, 15: dateOnly, 16: dateOnly, 17: dateOnly,
	18: timeOnly, 19: timeOnly, 20: timeOnly, 21: timeOnly,
	22: dateTime,
	27: dateOnly, 28: dateOnly, 29: dateOnly, 30: dateOnly, 31: dateOnly,
	32: timeOnly, 33: timeOnly, 34: timeOnly, 35: timeOnly, 36: dateOnly,
	50: dateOnly, 51: dateOnly, 52: dateOnly, 53: dateOnly, 54: dateOnly,
	55: timeOnly, 56: timeOnly, 57: dateOnly, 58: dateOnly,
}

// formatKind tells what a custom number format shows, from the tokens of
// excelize's own format parser (nfp): the date and time parts of its
// first section. A month ("m", "mm") next to no hour or second is a
// month; elapsed time ("[h]:mm") is a duration, not a date.
func formatKind(code string) dateKind {
	parser := nfp.NumberFormatParser()
	sections := parser.Parse(code)
	if len(sections) == 0 {
		return notDate
	}
	var date, clock, month bool
	for _, tok := range sections[0].Items {
		switch tok.TType {
		case nfp.TokenTypeElapsedDateTimes:
			return notDate
		case nfp.TokenTypeDateTimes:
		default:
			continue
		}
		v := strings.ToLower(tok.TValue)
		switch {
		case v == "":
		case strings.Contains(v, "/"): // AM/PM, A/P, 上午/下午
			clock = true
		case v[0] == 'h' || v[0] == 's':
			clock = true
		case v[0] == 'm' && len(v) <= 2:
			month = true // or minutes, when the format has hours or seconds
		case v[0] == 'y' || v[0] == 'd' || v[0] == 'e' || v[0] == 'g' || v[0] == 'b' || v[0] == 'm':
			date = true
		}
	}
	switch {
	case date && clock:
		return dateTime
	case date || month && !clock:
		return dateOnly
	case clock:
		return timeOnly
	}
	return notDate
}

// xlsxDates reads number cells styled as dates as ISO 8601 text.
type xlsxDates struct {
	f        *excelize.File
	date1904 bool
	kinds    map[int]dateKind // style index → what its number format shows
}

func newXLSXDates(f *excelize.File) *xlsxDates {
	d := &xlsxDates{f: f, kinds: map[int]dateKind{}}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		d.date1904 = *props.Date1904
	}
	return d
}

// kind tells what the number format of the cell style at index style
// shows; an index the workbook does not have shows a plain number.
func (d *xlsxDates) kind(style int) dateKind {
	if style <= 0 {
		return notDate // the default style, General
	}
	k, ok := d.kinds[style]
	if ok {
		return k
	}
	if st, err := d.f.GetStyle(style); err == nil {
		if st.CustomNumFmt != nil {
			k = formatKind(*st.CustomNumFmt)
		} else {
			k = builtInDates[st.NumFmt]
		}
	}
	d.kinds[style] = k
	return k
}

// text returns the ISO 8601 text of the serial number raw (the cell's
// value as stored) under a format of kind k, and false when it is no
// date: not a number, or outside what Excel shows as a date (before its
// epoch, after 9999-12-31).
func (d *xlsxDates) text(k dateKind, raw string) (string, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v >= 2958466 {
		return "", false
	}
	t, err := excelize.ExcelDateToTime(v, d.date1904)
	if err != nil {
		return "", false
	}
	switch k {
	case dateOnly:
		return t.Format(isoDate), true
	case dateTime:
		return t.Format(isoDateTime), true
	case timeOnly:
		return t.Format(isoTime), true
	}
	return "", false
}
