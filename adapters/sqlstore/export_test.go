package sqlstore

// SetLatestPageSize makes EachLatest read n locations a page, so a test
// crosses page boundaries with a few postings; it returns the undo.
func SetLatestPageSize(n int) (undo func()) {
	old := latestPageSize
	latestPageSize = n
	return func() { latestPageSize = old }
}
