package sources

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// cellKinds streams a worksheet's XML alongside excelize's row iterator to
// learn what excelize does not tell: which cells hold numbers. An ID number
// typed into Excel becomes a number and loses its last digits; the values
// alone cannot always show it (110101199003071000 may pass the checksum),
// the cell type does.
type cellKinds struct {
	zr   *zip.ReadCloser
	part string // the sheet's part, e.g. xl/worksheets/sheet1.xml
	rc   io.ReadCloser
	dec  *xml.Decoder
	row  int    // number of the row whose kinds are in kinds
	num  []bool // kinds of that row: true for a number cell, by column
	eof  bool

	// dates, when not nil, tells the styles that show numbers as dates;
	// date holds the number cells of the row so styled, by column.
	dates *xlsxDates
	date  []dateCell
}

// dateCell is a number cell styled as a date: what its style shows, and
// its value as stored (a serial number of days).
type dateCell struct {
	kind dateKind
	raw  string
}

// openCellKinds finds the XML part of the named sheet through the
// workbook and its relationships, and opens it for streaming.
func openCellKinds(file, sheet string) (*cellKinds, error) {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return nil, err
	}
	part, err := sheetPart(&zr.Reader, sheet)
	if err == nil {
		for _, f := range zr.File {
			if f.Name == part {
				rc, err := f.Open()
				if err != nil {
					zr.Close()
					return nil, err
				}
				return &cellKinds{zr: zr, part: part, rc: rc, dec: xml.NewDecoder(rc)}, nil
			}
		}
		err = fmt.Errorf("no part %s", part)
	}
	zr.Close()
	return nil, err
}

func sheetPart(zr *zip.Reader, sheet string) (string, error) {
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := decodePart(zr, "xl/workbook.xml", &wb); err != nil {
		return "", err
	}
	if err := decodePart(zr, "xl/_rels/workbook.xml.rels", &rels); err != nil {
		return "", err
	}
	for _, s := range wb.Sheets {
		if s.Name != sheet {
			continue
		}
		for _, r := range rels.Rels {
			if r.ID == s.RID {
				if strings.HasPrefix(r.Target, "/") {
					return strings.TrimPrefix(r.Target, "/"), nil
				}
				return path.Join("xl", r.Target), nil
			}
		}
	}
	return "", fmt.Errorf("sheet %q not in the workbook", sheet)
}

func decodePart(zr *zip.Reader, name string, v any) error {
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			defer rc.Close()
			return xml.NewDecoder(rc).Decode(v)
		}
	}
	return fmt.Errorf("no part %s", name)
}

// numbers returns, for row (1-based), which columns hold number cells,
// and which hold numbers styled as dates (when k.dates is set). Rows must
// be asked for in increasing order.
func (k *cellKinds) numbers(row int) ([]bool, []dateCell, error) {
	for !k.eof && k.row < row {
		if err := k.next(); err != nil {
			return nil, nil, err
		}
	}
	if k.row == row {
		return k.num, k.date, nil
	}
	return nil, nil, nil
}

// next reads the next <row> element.
func (k *cellKinds) next() error {
	k.num = k.num[:0]
	k.date = k.date[:0]
	inRow := false
	col := 0
	dateKind := notDate // of the number cell being read
	for {
		tok, err := k.dec.Token()
		if errors.Is(err, io.EOF) {
			k.eof = true
			return nil
		}
		if err != nil {
			return err
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "row":
				inRow = true
				if r, err := strconv.Atoi(attr(el, "r")); err == nil {
					k.row = r
				} else {
					k.row++
				}
				col = 0
			case "c":
				if !inRow {
					continue
				}
				if ref := attr(el, "r"); ref != "" {
					col = columnIndex(ref)
				} else {
					col++
				}
				if col < 1 || col > maxColumns {
					return fmt.Errorf("row %d: a cell past column XFD, the last Excel has", k.row)
				}
				t := attr(el, "t")
				for len(k.num) < col {
					k.num = append(k.num, false)
				}
				k.num[col-1] = t == "" || t == "n"
				dateKind = notDate
				if k.num[col-1] && k.dates != nil {
					if s, err := strconv.Atoi(attr(el, "s")); err == nil {
						dateKind = k.dates.kind(s)
					}
				}
			case "v":
				if !inRow || dateKind == notDate {
					continue
				}
				var raw strings.Builder
				if err := k.text(&raw); err != nil {
					return err
				}
				for len(k.date) < col {
					k.date = append(k.date, dateCell{})
				}
				k.date[col-1] = dateCell{kind: dateKind, raw: raw.String()}
				dateKind = notDate
			}
		case xml.EndElement:
			if el.Name.Local == "row" && inRow {
				return nil
			}
		}
	}
}

// text reads the text of the element just opened, up to its end.
func (k *cellKinds) text(b *strings.Builder) error {
	for {
		tok, err := k.dec.Token()
		if err != nil {
			return err
		}
		switch el := tok.(type) {
		case xml.CharData:
			if b.Len() < 64 { // a number is short: the rest is not one
				b.Write(el)
			}
		case xml.EndElement:
			return nil
		}
	}
}

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// maxColumns is the number of columns of an Excel sheet, A to XFD.
const maxColumns = 16384

// columnIndex returns the 1-based column of a cell reference such as "AB12".
func columnIndex(ref string) int {
	n := 0
	for _, c := range ref {
		switch {
		case n > maxColumns:
			return n // past the last column: enough to tell
		case c >= 'A' && c <= 'Z':
			n = n*26 + int(c-'A') + 1
		case c >= 'a' && c <= 'z':
			n = n*26 + int(c-'a') + 1
		default:
			return n
		}
	}
	return n
}

func (k *cellKinds) Close() error {
	k.rc.Close()
	return k.zr.Close()
}
