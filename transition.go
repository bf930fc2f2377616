package userauth

import (
	"errors"
	"fmt"
	"time"
)

// The session's state machine, as pure functions: no I/O, no locks, no
// clock but the one in rules. The engine (engine.go) loads the record,
// calls step, writes the record step returns when its generation grew,
// performs the action, and calls step again with the answer, until the
// action is actDone. Every hazard it knows is a row of the tables in
// transition_test.go.

// goalKind is what a transaction is for.
type goalKind uint8

const (
	goalUsable      goalKind = iota // a usable complete pair: renew unless fresh
	goalForced                      // Refresh: renew unless a pair newer than used
	goalRefused                     // a 401 on pair used, for the request cause
	goalStepUp                      // a 424 on pair used, for the request cause
	goalAdopt                       // make pair the session (Login, SetToken, a magic link)
	goalCode                        // complete the pending step (or renew the grace period) with code
	goalLogout                      // have the server revoke the session, then log out
	goalLogoutLocal                 // log out without the server
	goalFlush                       // give storage the record this store holds unsaved; nothing else
)

// goal is a transaction's aim.
type goal struct {
	kind     goalKind
	used     uint64 // Paired of the pair the caller used
	cause    string // digest of the refused request
	pair     *Token // goalAdopt
	code     string // goalCode
	stepped  bool   // a code was presented: another requires_2fa is the caller's
	loggedIn bool   // a login was made: its failure is not tried again

	// resp, for goalAdopt, is the answer that pair comes from, sent at
	// sent; the engine reads the server's clock from it.
	resp *TokenResponse
	sent time.Time
}

// resultKind is what performing an action brought.
type resultKind uint8

const (
	ansNone    resultKind = iota
	ansPair               // a 2xx pair: of a refresh, a 2FA step or a login
	ansCode               // the handler's code
	ansEnded              // the server refused the refresh token, or spent it and its answer was lost
	ansFailed             // passing trouble: the network, a 5xx, a wrong code, the handler's error
	ansRevoked            // the logout call ended; err is the server's refusal, if any
)

type result struct {
	kind resultKind
	pair *Token
	code string
	err  error
}

// actionKind is what the engine does next.
type actionKind uint8

const (
	actDone    actionKind = iota // stop, with err
	actAskCode                   // ask the TwoFactorHandler for a code for method
	actPresent                   // present the (spending) record's refresh token, with code when not ""
	actLogin                     // log in with the store's credentials
	actRevoke                    // have the server revoke the session with access
)

type action struct {
	kind   actionKind
	err    error
	code   string
	method TwoFactorMethod
	access string
}

// rules is what step knows besides the record: the moment, and what the
// engine computed of the record's pairs at that moment.
type rules struct {
	now         time.Time
	api         string // the store's API
	handler     bool   // a TwoFactorHandler is set
	credentials bool   // WithCredentials is set
	fresh       bool   // the record's pair is complete and not due
	valid       bool   // the record's pair has not expired
	replaced    bool   // the record's Replaced pair has not expired
	restored    bool   // the record, unsaved before, was written back by this transaction
	abandoned   bool   // the record is another store's spending, seen unchanged here for twice the timeout
}

// refusalCooldown is how long a pair that a renewal made for a request's
// 401 (or 424) is not renewed again for that request's refusal: an
// endpoint that refuses every token must not cost a refresh a request.
const refusalCooldown = time.Minute

// Errors of transitions that end without the session's pair.
var (
	// errRefusalStands: the pair was made for this very refusal moments
	// ago; the request's 401 (or 424) is the endpoint's answer.
	errRefusalStands = errors.New("userauth: the server refused a token renewed for this request moments ago")
	// errSpendingElsewhere: another store is presenting the refresh token,
	// and the access token has expired meanwhile.
	errSpendingElsewhere = fmt.Errorf("%w: another process is renewing the tokens", ErrStorageUnavailable)
	errOtherAPI          = errors.New("the stored session belongs to another API")
	errAbandoned         = errors.New("another process began a renewal and never saved its answer; its refresh token may be spent")
	errNoSession         = errors.New("no session")
	errLoggedOut         = errors.New("logged out")
	errNotSavedYet       = fmt.Errorf("%w: the session is not saved yet", ErrStorageUnavailable)
	errSessionEnded      = errors.New("the server refused the refresh token, or spent it and its answer was lost")
)

// merge is what a transaction starts from: held, the record this store
// holds, or stored, what storage holds; back reports that storage must be
// given held (it lost it: restarted empty, or a write of held failed).
//
// base is the generation storage held when held was written, and
// basePaired the pair it held then: held is unsaved when base is lower
// than its generation. When storage moved past base meanwhile, two stores
// wrote since base without seeing each other (during an outage, or while
// storage refused one of them): a fork, whose generations cannot be
// compared. What storage holds wins it, but for two cases. The pair held
// descends from the one storage still holds (or ended, or is spending):
// this store spent that pair's refresh token, and its answer is the only
// good pair. A login held wins, as it would have with storage up, unless
// a logout came since base (the server revoked it).
func merge(held *Record, base, basePaired uint64, login bool, stored *Record) (rec Record, back bool) {
	switch {
	case held == nil && stored == nil:
		return Record{}, false
	case held == nil:
		return *stored, false
	case stored == nil:
		return *held, true
	}
	fork := base < held.Generation && stored.Generation > base
	descends := held.hasPair() && basePaired != 0 && held.Paired != basePaired &&
		stored.Paired == basePaired && stored.Phase != PhaseLoggedOut
	switch {
	case !fork && stored.Generation < held.Generation:
		return *held, true
	case !fork:
		return *stored, false
	case descends, login && stored.LastLogout <= base:
		rec = *held
		rec.Generation = max(stored.Generation, held.Generation) + 1
		rec.Paired, rec.LastLogout = rec.Generation, max(rec.LastLogout, stored.LastLogout)
		return rec, true
	}
	return *stored, false
}

// step applies a, the answer of the last action, to r, and says what
// comes next for g. The record it returns has a higher generation when it
// must be written before the action.
func step(r Record, g goal, a result, x rules) (Record, goal, action) {
	switch a.kind {
	case ansPair:
		return gotPair(r, g, a.pair, x)
	case ansCode:
		g.kind, g.code = goalCode, a.code
	case ansEnded:
		n := next(r)
		n.Phase, n.Token, n.Replaced = PhaseEnded, nil, nil
		switch {
		case g.kind == goalLogout || g.kind == goalLogoutLocal:
			return loggedOut(n), g, done(nil)
		case x.credentials && !g.loggedIn:
			g.loggedIn = true
			return n, g, action{kind: actLogin}
		}
		return n, g, done(errLoginRequiredBy(a.err))
	case ansFailed:
		if g.kind == goalLogout { // logged out here all the same
			return loggedOut(r), g, done(fmt.Errorf("%w: %w", ErrNotRevoked, a.err))
		}
		if r.Phase == PhaseSpending {
			return unspent(r), g, done(a.err)
		}
		return r, g, done(a.err)
	case ansRevoked:
		if a.err != nil {
			return loggedOut(r), g, done(fmt.Errorf("%w: %w", ErrNotRevoked, a.err))
		}
		return loggedOut(r), g, done(nil)
	}
	return decide(r, g, x)
}

// decide says what g needs from r.
func decide(r Record, g goal, x rules) (Record, goal, action) {
	switch {
	case g.kind == goalFlush:
		return r, g, done(nil) // the load wrote back what storage lacked
	case g.kind == goalAdopt:
		return adopt(r, g, g.pair, x)
	case g.kind == goalLogoutLocal, g.kind == goalLogout && !r.hasPair():
		if r.Phase == PhaseLoggedOut {
			return r, g, done(nil)
		}
		return loggedOut(r), g, done(nil)
	}
	if r.hasPair() && r.API != "" && !sameAPI(r.API, x.api) {
		if g.kind == goalLogout {
			return loggedOut(r), g, done(nil) // never send its tokens here
		}
		return r, g, done(errLoginRequiredBy(fmt.Errorf("%w (%s)", errOtherAPI, r.API)))
	}
	switch r.Phase {
	case PhaseActive:
		return decideActive(r, g, x)
	case PhasePending2FA:
		return decidePending(r, g, x)
	case PhaseSpending:
		// Another store presents its refresh token (this store's own
		// spending never outlives a transaction, or is held newer): never
		// presented here, whatever happens to that store.
		switch {
		case g.kind == goalLogout && x.valid:
			return r, g, action{kind: actRevoke, access: r.Token.AccessToken}
		case g.kind == goalLogout:
			return loggedOut(r), g, done(nil)
		case !x.abandoned: // its answer may still be written
			if x.valid && r.complete() != nil {
				return r, g, done(nil)
			}
			return r, g, done(errSpendingElsewhere)
		}
		// Abandoned: its spender died, or storage refuses its writes. Its
		// refresh token may be spent; the session ends.
		return step(r, g, result{kind: ansEnded, err: errAbandoned}, x)
	}
	if x.credentials && r.Phase != PhaseLoggedOut && !g.loggedIn && g.kind != goalLogout {
		g.loggedIn = true
		return r, g, action{kind: actLogin}
	}
	cause := errNoSession
	switch r.Phase {
	case PhaseLoggedOut:
		cause = errLoggedOut
	case PhaseEnded:
		cause = errSessionEnded
	}
	return r, g, done(errLoginRequiredBy(cause))
}

// decideActive says what g needs from r, an active record.
func decideActive(r Record, g goal, x rules) (Record, goal, action) {
	switch g.kind {
	case goalUsable:
		if x.fresh {
			return r, g, done(nil)
		}
	case goalForced:
		// Renewed since the caller looked, or the renewal a call before
		// could not save, written back now.
		if x.fresh && (x.restored || g.used != 0 && r.Paired != g.used) {
			return r, g, done(nil)
		}
	case goalRefused, goalStepUp:
		switch {
		case r.Paired != g.used && (g.kind == goalRefused || r.Stepped):
			return r, g, done(nil) // a newer pair answers it (for a 424, one a 2FA step made)
		case r.RenewedFor == g.cause && x.now.Before(r.RenewedAt.Add(refusalCooldown)):
			return r, g, done(errRefusalStands)
		case g.kind == goalStepUp && !x.handler:
			return r, g, done(ErrTwoFactorExpired)
		case g.kind == goalStepUp:
			return r, g, action{kind: actAskCode, method: r.Method}
		}
	case goalCode:
		return spend(r, g, x)
	case goalLogout:
		if x.valid {
			return r, g, action{kind: actRevoke, access: r.Token.AccessToken}
		}
	}
	return spend(r, g, x)
}

// decidePending says what g needs from r, a record whose 2FA step is
// pending.
func decidePending(r Record, g goal, x rules) (Record, goal, action) {
	switch {
	case g.kind == goalLogout && r.Replaced != nil && x.replaced:
		return r, g, action{kind: actRevoke, access: r.Replaced.AccessToken}
	case g.kind == goalLogout:
		return loggedOut(r), g, done(nil) // nothing complete to revoke
	case g.kind == goalCode:
		return spend(r, g, x)
	case g.stepped || !x.handler:
		return r, g, done(&TwoFactorRequiredError{Method: r.Token.Requires2FA})
	}
	return r, g, action{kind: actAskCode, method: r.Token.Requires2FA}
}

// spend writes r as spending, then presents its refresh token (with g's
// code, if any).
func spend(r Record, g goal, x rules) (Record, goal, action) {
	n := next(r)
	n.Phase = PhaseSpending
	if g.kind == goalCode {
		g.stepped = true
	}
	return n, g, action{kind: actPresent, code: g.code}
}

// gotPair makes pair, a 2xx answer, the session: a refresh's, a 2FA
// step's or a login's.
func gotPair(r Record, g goal, pair *Token, x rules) (Record, goal, action) {
	n := next(r)
	n.Token, n.Paired, n.API, n.Replaced = pair, n.Generation, x.api, nil
	n.Phase, n.Stepped = PhaseActive, g.stepped && r.Phase == PhaseSpending
	n.RenewedFor, n.RenewedAt = "", time.Time{}
	if r.Phase == PhaseSpending && g.cause != "" { // made for a refusal
		n.RenewedFor, n.RenewedAt = g.cause, x.now
	}
	if pair.Requires2FA != "" {
		n.Phase, n.Method = PhasePending2FA, pair.Requires2FA
		if c := r.complete(); c != nil && r.Phase == PhaseSpending {
			n.Replaced = c
		}
	}
	switch {
	case g.kind == goalLogout && n.Phase == PhaseActive:
		return n, g, action{kind: actRevoke, access: pair.AccessToken}
	case g.kind == goalLogout:
		return loggedOut(n), g, done(nil)
	case n.Phase == PhaseActive:
		return n, g, done(nil)
	}
	g.kind = goalUsable
	return decidePending(n, g, x)
}

// adopt makes pair, from an answer the caller got, the session.
func adopt(r Record, g goal, pair *Token, x rules) (Record, goal, action) {
	r.Phase = PhaseEnded // what it replaces spends nothing, and is no refusal's
	g.kind = goalUsable
	return gotPair(r, g, pair, x)
}

// next is r as the next write makes it.
func next(r Record) Record {
	r.Generation++
	return r
}

// unspent is r, a spending record, back in the phase it was spending
// from: the refresh token was not spent.
func unspent(r Record) Record {
	r = next(r)
	r.Phase = PhaseActive
	if r.Token.Requires2FA != "" {
		r.Phase = PhasePending2FA
	}
	return r
}

// loggedOut is the record a logout writes over r.
func loggedOut(r Record) Record {
	return Record{Generation: r.Generation + 1, Phase: PhaseLoggedOut, API: r.API, LastLogout: r.Generation + 1}
}

func done(err error) action { return action{kind: actDone, err: err} }
