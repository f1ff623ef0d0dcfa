package transform

import "time"

// day is a calendar date as the number yyyymmdd, which orders as the dates
// do. Comparing them is what the ID and authorization checks need, without
// the cost of time.Time arithmetic for every row.
type day int

// dayOf returns the date of t, in t's location.
func dayOf(t time.Time) day {
	y, m, d := t.Date()
	return day(y*10000 + int(m)*100 + d)
}

// time returns the day as midnight UTC.
func (d day) time() time.Time {
	return time.Date(int(d)/10000, time.Month(int(d)/100%100), int(d)%100, 0, 0, 0, 0, time.UTC)
}

// parseDay reads a date written YYYYMMDD and reports whether it is one,
// as time.Parse("20060102", s) would. Eight digits, the common case, are
// read here: time.Parse cost more than the rest of a row's checks.
func parseDay(s string) (day, bool) {
	if len(s) != 8 || !allDigits(s) {
		t, err := time.Parse("20060102", s)
		if err != nil {
			return 0, false
		}
		return dayOf(t), true
	}
	return makeDay(digits4(s), digits2(s[4:]), digits2(s[6:]))
}

// parseDashedDay reads a date written YYYY-MM-DD, the way applicant files
// mostly write them: it reports false for anything time.Parse("2006-01-02",
// s) does not read, and for any other form of it, which is left to
// time.Parse.
func parseDashedDay(s string) (day, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:]) {
		return 0, false
	}
	return makeDay(digits4(s), digits2(s[5:]), digits2(s[8:]))
}

// makeDay returns the day y-m-d, and whether it is one.
func makeDay(y, m, d int) (day, bool) {
	if m < 1 || m > 12 || d < 1 || d > daysIn(m, y) {
		return 0, false
	}
	return day(y*10000 + m*100 + d), true
}

// digits4 and digits2 read four and two ASCII digits.
func digits4(s string) int { return digits2(s)*100 + digits2(s[2:]) }
func digits2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// daysIn returns the number of days of month m (1–12) of year y in the
// proleptic Gregorian calendar, as package time counts them.
func daysIn(m, y int) int {
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return monthDays[m-1]
}

var monthDays = [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
