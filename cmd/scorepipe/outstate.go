package main

import (
	"path/filepath"

	"github.com/scorepipe/scorepipe/config"
)

// defaultStateFolders are the folders of the run's state when no
// configuration says more: the state directory.
func defaultStateFolders() []string {
	dir, err := config.StateDir()
	if err != nil {
		return nil
	}
	return []string{dir}
}

// checkReviewOut refuses a review whose files (the workbook out, and
// review.json and changes.parquet beside it; by default in the reviewed
// run's folder dir) would be written into a folder of the run's state.
func checkReviewOut(dir, out string, stateFolders []string) error {
	field, folder := "review DIR", dir
	if out != "" {
		field, folder = "--out", filepath.Dir(out)
	}
	return config.CheckOutputFolder(field, folder, stateFolders)
}
