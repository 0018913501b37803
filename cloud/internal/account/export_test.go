package account

// HoldHashSlot occupies one of h's concurrent-hash slots until the returned func is called.
func HoldHashSlot(h *Hasher) (release func()) {
	h.sem <- struct{}{}
	return func() { <-h.sem }
}
