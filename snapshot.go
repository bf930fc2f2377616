package userauth

import "time"

// The snapshot: what readers see of the session, an immutable value
// behind an atomic pointer, and when its token is due and expires.

// snapshot is the session as callers are served it.
type snapshot struct {
	rec        *Record // what this store holds; nil until storage was first read
	base       uint64  // the generation storage held when rec was published: below rec's, rec is unsaved (see merge)
	basePaired uint64  // the pair storage held then (see merge)
	login      bool    // rec, unsaved, descends from a login (see merge)
	bearer     string  // "Bearer " + the complete access token
	refreshAt  time.Time
	expiresAt  time.Time
	known      bool           // expiresAt is known
	offset     *time.Duration // the server's clock less the store's, once an answer showed it
	told       uint64         // the pair last told to OnTokenChange (its Paired; 0 for none)
	failErr    error          // the last renewal's failure, handed out until failUntil
	failUntil  time.Time
	spendSeen  time.Time // when this store first saw rec, another store's spending record (by its own clock)
}

// tokenState is what callers do with a snapshot's token.
type tokenState uint8

const (
	stateNone    tokenState = iota // no complete pair: wait for a transaction
	stateFresh                     // hand it out
	stateDue                       // hand it out; one renewal starts behind the callers
	stateExpired                   // wait for the renewal
)

func (sn *snapshot) state(now time.Time) tokenState {
	switch {
	case sn == nil || sn.bearer == "": // no complete pair of this store's API
		return stateNone
	case now.Before(sn.refreshAt) && sn.saved():
		return stateFresh
	case sn.known && now.Before(sn.expiresAt), !sn.known && now.Before(sn.refreshAt):
		return stateDue
	}
	return stateExpired
}

// saved reports whether storage took sn's record: otherwise its pair is
// only due, and written back behind the callers.
func (sn *snapshot) saved() bool { return sn.rec == nil || sn.base >= sn.rec.Generation }

// failedFor is the renewal failure g is answered with, without a call, at
// now: nil once failureMemory has passed, and for goals that renew nothing.
func (sn *snapshot) failedFor(g goal, now time.Time) error {
	if g.kind <= goalStepUp && now.Before(sn.failUntil) {
		return sn.failErr
	}
	return nil
}

// paired is the identity of sn's pair, 0 for none.
func (sn *snapshot) paired() uint64 {
	if sn == nil || !sn.rec.hasPair() {
		return 0
	}
	return sn.rec.Paired
}

// token is a copy of sn's complete pair as the store hands it out: Expiry
// is the store's (see TokenStore.Token), zero when unknown.
func (sn *snapshot) token() *Token {
	t := *sn.rec.complete()
	t.Expiry = time.Time{}
	if sn.known {
		t.Expiry = sn.expiresAt
	}
	return &t
}

// schedule is the snapshot of rec: when its pair is due and expires. The
// schedule of held's pair is kept when rec holds the same pair (an
// unknown expiry is not trusted anew).
func (s *TokenStore) schedule(held *snapshot, rec *Record, offset *time.Duration, now time.Time) *snapshot {
	sn := &snapshot{rec: rec, offset: offset}
	c := rec.complete()
	if c == nil || rec.API != "" && !sameAPI(rec.API, s.client.baseURL.String()) {
		return sn // nothing to hand out: another API's tokens never are
	}
	sn.bearer = "Bearer " + c.AccessToken
	if held.paired() == rec.Paired && held.rec.complete() != nil {
		sn.refreshAt, sn.expiresAt, sn.known = held.refreshAt, held.expiresAt, held.known
		return sn
	}
	expiry := s.localExpiry(c, offset)
	if expiry.Sub(now) > maxTrustedLifetime {
		expiry = time.Time{} // a sentinel, saved or read with the offset
	}
	if expiry.IsZero() {
		sn.refreshAt = now.Add(unknownExpiryLifetime)
		return sn
	}
	if offset == nil {
		// Saved by a clock the store cannot compare with the server's:
		// trust it for a while only; the renewal's answer tells.
		expiry = minTime(expiry, now.Add(unknownExpiryLifetime))
	}
	sn.refreshAt, sn.expiresAt, sn.known = expiry.Add(-s.refreshSkew(c, expiry.Sub(now))), expiry, true
	return sn
}

// refreshSkew is how long before its expiry tok is renewed: the store's
// skew, capped at half the token's lifetime, so that a short-lived token
// is not renewed as soon as it arrives. The lifetime is the token's exp
// less its iat, wherever the pair comes from, so a stored token with
// little left is due, not fresh. Without an iat the store knows only
// left, what the token has left now, and takes it for the lifetime.
func (s *TokenStore) refreshSkew(tok *Token, left time.Duration) time.Duration {
	if exp, iat := jwtTimes(tok.AccessToken); !exp.IsZero() && !iat.IsZero() && exp.After(iat) {
		return min(s.cfg.skew, exp.Sub(iat)/2)
	}
	return min(s.cfg.skew, max(left/2, 0))
}

// localExpiry is when tok's access token expires by the store's clock:
// its exp claim less the server clock's offset, when the store measured
// it (a pair saved by a process whose clock differs is read right);
// otherwise the Expiry the pair was saved with.
func (s *TokenStore) localExpiry(tok *Token, offset *time.Duration) time.Time {
	if offset != nil {
		if exp := jwtExpiry(tok.AccessToken); !exp.IsZero() {
			return exp.Add(-*offset)
		}
	}
	return tok.Expiry
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
