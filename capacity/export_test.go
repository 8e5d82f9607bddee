package capacity

// Queued is how many postings wait for a batch in r's queue.
func Queued(r *Recorded) int {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return len(r.b.queue)
}
