package userauth

import "sync"

// notifier delivers OnTokenChange's calls one at a time, outside the
// store's lock, so that f may call the store. Transactions queue what they
// saved in their order; a call queued while another is delivered replaces
// any older one not delivered yet, so f is told the newest state last and
// never an older one after it.
type notifier struct {
	mu      sync.Mutex
	busy    bool  // a goroutine is delivering
	pending Token // the newest state not told yet, when queued
	queued  bool
}

// queue records tok to be told. Called under the store's lock.
func (n *notifier) queue(tok Token) {
	n.mu.Lock()
	n.pending, n.queued = tok, true
	n.mu.Unlock()
}

// deliver tells f what is queued, unless another goroutine is delivering
// (it tells it then).
func (n *notifier) deliver(f func(Token)) {
	n.mu.Lock()
	if f == nil || n.busy || !n.queued {
		n.mu.Unlock()
		return
	}
	n.busy = true
	for n.queued {
		tok := n.pending
		n.queued = false
		n.mu.Unlock()
		n.call(f, tok)
		n.mu.Lock()
	}
	n.busy = false
	n.mu.Unlock()
}

// call runs f; when f panics, the notifier is free again for the next call.
func (n *notifier) call(f func(Token), tok Token) {
	defer func() {
		if p := recover(); p != nil {
			n.mu.Lock()
			n.busy = false
			n.mu.Unlock()
			panic(p)
		}
	}()
	f(tok)
}
