package sqlstore

// ReferralRechecks is how many of r's changes the PostgreSQL pipeline
// handed to an ordinary transaction because a new hold's condition failed.
func ReferralRechecks(r *Referral) int64 { return r.rechecks.Load() }

// SetAfterPostingRead runs f between the pipelined accept's read of the
// latest postings and its batch; it returns the undo.
func SetAfterPostingRead(f func()) (undo func()) {
	afterPostingRead = f
	return func() { afterPostingRead = nil }
}
