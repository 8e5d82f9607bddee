package sqlstore

// SetLatestPageSize makes EachLatest read n locations a page, so a test
// crosses page boundaries with a few postings; it returns the undo.
func SetLatestPageSize(n int) (undo func()) {
	old := latestPageSize
	latestPageSize = n
	return func() { latestPageSize = old }
}

// AuditGroups is how many group writes a has made: fewer than its
// Records when they were committed together.
func AuditGroups(a *Audit) int64 { return a.groups.Load() }

// AuditWriters is how many group writes may be in flight at once.
const AuditWriters = auditWriters
