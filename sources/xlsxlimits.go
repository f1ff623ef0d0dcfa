package sources

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The caps on a workbook, before excelize reads it: an xlsx file is a zip
// of XML parts, and a small one can unpack to gigabytes (a zip bomb).
const (
	// DefaultXLSXMaxBytes caps what a workbook unpacks to: a full sheet
	// (1,048,576 rows) of about 15 text columns unpacks to some 900 MB.
	DefaultXLSXMaxBytes = 1 << 30
	// DefaultXLSXMaxCells caps the cells of the sheet read (a million
	// rows of 20 columns) and the strings the workbook shares between them.
	DefaultXLSXMaxCells = 20_000_000

	// maxInflation is how many times its size in the file a part larger
	// than inflationFree may unpack to. Excel's own files unpack some 5
	// to 15 times; a zip bomb a thousand times.
	maxInflation  = 100
	inflationFree = 1 << 20

	// maxMemoryPart caps each part excelize reads into memory whole:
	// every part but the worksheets and the shared strings, which it
	// spills to temporary files when they are large.
	maxMemoryPart = 32 << 20

	// excelizeMemoryXML is the size past which excelize spills a
	// worksheet or the shared strings to a temporary file (its
	// UnzipXMLSizeLimit, whose default this is).
	excelizeMemoryXML = 16 << 20
)

// xlsxLimits are the caps of one read, from Options.
type xlsxLimits struct {
	bytes, cells int64
}

func (o Options) xlsxLimits() xlsxLimits {
	l := xlsxLimits{bytes: o.XLSXMaxBytes, cells: o.XLSXMaxCells}
	if l.bytes <= 0 {
		l.bytes = DefaultXLSXMaxBytes
	}
	if l.cells <= 0 {
		l.cells = DefaultXLSXMaxCells
	}
	return l
}

// errTooLarge is wrapped by the errors of a workbook past a cap.
var errTooLarge = errors.New("the workbook is too large to read safely")

// checkWorkbook looks at a workbook's zip directory, and counts its
// shared strings when excelize would index them on disk, before excelize
// unpacks anything. The sizes in the directory are binding: archive/zip
// fails a part that unpacks to more than it says.
func checkWorkbook(zr *zip.Reader, lim xlsxLimits) error {
	var total uint64
	var sst *zip.File
	for _, f := range zr.File {
		size := f.UncompressedSize64
		name := strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))
		if size > uint64(lim.bytes)-total {
			return fmt.Errorf("%w: it unpacks to more than %s (input.xlsx.max_bytes); save the sheet as CSV, or raise the cap", errTooLarge, byteSize(lim.bytes))
		}
		total += size
		if size > inflationFree && size/maxInflation > f.CompressedSize64 {
			return fmt.Errorf("%w: its part %s unpacks to %s, more than %d times its size in the file (a zip bomb?); save the sheet as CSV", errTooLarge, f.Name, byteSize(int64(size)), maxInflation)
		}
		switch {
		case name == "xl/sharedstrings.xml":
			sst = f
		case strings.HasPrefix(name, "xl/worksheets/sheet"):
		case size > maxMemoryPart:
			return fmt.Errorf("%w: its part %s unpacks to %s, more than the %s a part other than a sheet may; save the sheet as CSV", errTooLarge, f.Name, byteSize(int64(size)), byteSize(maxMemoryPart))
		}
	}
	if sst != nil && sst.UncompressedSize64 > excelizeMemoryXML {
		n, err := countElements(sst, "si", lim.cells)
		if err != nil {
			return fmt.Errorf("shared strings: %w", err)
		}
		if n > lim.cells {
			return fmt.Errorf("%w: it shares more than %d strings (input.xlsx.max_cells); save the sheet as CSV, or raise the cap", errTooLarge, lim.cells)
		}
	}
	return nil
}

// checkSheetCells counts the cells of a sheet's part, refusing more than
// the cap before a row is read.
func checkSheetCells(zr *zip.Reader, part string, lim xlsxLimits) error {
	for _, f := range zr.File {
		if f.Name != part {
			continue
		}
		n, err := countElements(f, "c", lim.cells)
		if err != nil {
			return err
		}
		if n > lim.cells {
			return fmt.Errorf("%w: the sheet has more than %d cells (input.xlsx.max_cells); save it as CSV, or raise the cap", errTooLarge, lim.cells)
		}
		return nil
	}
	return fmt.Errorf("no part %s", part)
}

// countElements counts the elements of a local name in a part, stopping
// past limit.
func countElements(f *zip.File, local string, limit int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	dec := xml.NewDecoder(rc)
	var n int64
	for n <= limit {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == local {
			n++
		}
	}
	return n, nil
}

// byteSize writes n bytes for a person: 1 GiB, 32 MiB, 900 KiB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
