package userauth

import (
	"context"
)

// recordOf is the record of a new session holding tok, as a store's
// first write makes it.
func recordOf(tok *Token) *Record {
	phase := PhaseActive
	if tok.Requires2FA != "" {
		phase = PhasePending2FA
	}
	return &Record{Generation: 1, Phase: phase, Token: tok, Paired: 1}
}

// loadPair is the pair storage holds, as storedToken, with storage's error.
func loadPair(ctx context.Context, storage TokenStorage) (*Token, error) {
	rec, err := storage.Load(ctx)
	if err != nil || !rec.hasPair() {
		return nil, err
	}
	return rec.Token, nil
}

// savePair saves tok as the session's next record, as a store would.
func savePair(ctx context.Context, storage TokenStorage, tok *Token) error {
	if tok == nil {
		return storage.Save(ctx, nil)
	}
	var gen uint64
	if rec, err := storage.Load(ctx); err == nil {
		gen = rec.generation()
	}
	r := recordOf(tok)
	r.Generation, r.Paired = gen+1, gen+1
	return storage.Save(ctx, r)
}
