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

// SetBeforeGroup runs f (with the group's size) as each group of r's
// changes has been formed and before it is applied; it returns the undo.
func SetBeforeGroup(f func(n int)) (undo func()) {
	beforeGroup = f
	return func() { beforeGroup = nil }
}

// GroupQueued is how many of r's changes wait for a group.
func GroupQueued(r *Referral) int {
	r.group.mu.Lock()
	defer r.group.mu.Unlock()
	return len(r.group.pending)
}
