package sources

import "errors"

func openXLSX(path string, opts Options) (Reader, error) {
	return nil, &FileError{path, errors.New("XLSX input is not supported yet: save the sheet as CSV")}
}
