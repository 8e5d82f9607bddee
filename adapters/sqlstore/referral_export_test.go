package sqlstore

// ReferralRechecks is how many of r's changes the PostgreSQL pipeline
// handed to an ordinary transaction because a new hold's condition failed.
func ReferralRechecks(r *Referral) int64 { return r.rechecks.Load() }
