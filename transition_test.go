package userauth

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The state machine's table: one row per hazard the store has met. Each
// row is a record, a goal, what the last action brought, and the rules of
// the moment; it says what step writes (the phase and how much the
// generation grows), what it does next, and the error it ends with.

var (
	t0         = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	api        = "https://api.example.test/"
	pairA      = &Token{AccessToken: "access-A", RefreshToken: "refresh-A"}
	pairB      = &Token{AccessToken: "access-B", RefreshToken: "refresh-B"}
	pending    = &Token{AccessToken: "partial", RefreshToken: "refresh-P", Requires2FA: TwoFactorGoogleAuthenticator}
	refusedFor = "digest-of-a-refused-request"
)

// active is an active record of generation gen holding tok since paired.
func active(gen, paired uint64, tok *Token) Record {
	return Record{Generation: gen, Phase: PhaseActive, Token: tok, Paired: paired, API: api}
}

// at is the rules at t0 plus d, for a store with a handler when handler.
func at(d time.Duration, fresh, valid bool) rules {
	return rules{now: t0.Add(d), api: api, fresh: fresh, valid: valid}
}

func TestStepTable(t *testing.T) {
	t.Parallel()
	withHandler := func(x rules) rules { x.handler = true; return x }
	withCredentials := func(x rules) rules { x.credentials = true; return x }
	restored := func(x rules) rules { x.restored = true; return x }
	abandoned := func(x rules) rules { x.abandoned = true; return x }
	renewedFor := func(r Record, c string, when time.Time) Record { r.RenewedFor, r.RenewedAt = c, when; return r }
	stepped := func(r Record) Record { r.Stepped = true; return r }
	spending := func(r Record) Record { r.Phase = PhaseSpending; return r }
	pendingAfter := func(gen uint64) Record {
		r := Record{Generation: gen, Phase: PhasePending2FA, Token: pending, Paired: gen, API: api, Replaced: pairA}
		return r
	}
	foreign := active(4, 4, pairA)
	foreign.API = "https://other.example.test/"

	tests := []struct {
		name    string
		rec     Record
		goal    goal
		ans     result
		x       rules
		phase   Phase      // of the record step returns
		grows   uint64     // how much its generation grew
		act     actionKind // what comes next
		wantErr error      // errors.Is; nil for none
	}{
		{"fresh token: served, nothing written", active(3, 3, pairA), goal{kind: goalUsable, used: 3}, result{}, at(0, true, true), PhaseActive, 0, actDone, nil},
		{"due token: spending written before the refresh", active(3, 3, pairA), goal{kind: goalUsable, used: 3}, result{}, at(0, false, true), PhaseSpending, 1, actPresent, nil},
		{"Refresh of the pair the caller saw: renewed", active(3, 3, pairA), goal{kind: goalForced, used: 3}, result{}, at(0, true, true), PhaseSpending, 1, actPresent, nil},
		{"Refresh after another renewal: that pair answers it", active(5, 5, pairB), goal{kind: goalForced, used: 3}, result{}, at(0, true, true), PhaseActive, 0, actDone, nil},
		{"Refresh of a store that never looked: renewed", active(5, 5, pairB), goal{kind: goalForced}, result{}, at(0, true, true), PhaseSpending, 1, actPresent, nil},
		{"Refresh after a pair refused by storage was written back: no second refresh", active(5, 5, pairB), goal{kind: goalForced, used: 5}, result{}, restored(at(0, true, true)), PhaseActive, 0, actDone, nil},
		{"401 on an older pair: the newer one answers it", active(5, 5, pairB), goal{kind: goalRefused, used: 3, cause: refusedFor}, result{}, at(0, true, true), PhaseActive, 0, actDone, nil},
		{"401 again on the pair renewed for that very 401: the endpoint's answer", renewedFor(active(5, 5, pairB), refusedFor, t0), goal{kind: goalRefused, used: 5, cause: refusedFor}, result{}, at(10*time.Second, true, true), PhaseActive, 0, actDone, errRefusalStands},
		{"401 again, a cooldown later: renewed", renewedFor(active(5, 5, pairB), refusedFor, t0), goal{kind: goalRefused, used: 5, cause: refusedFor}, result{}, at(2*time.Minute, true, true), PhaseSpending, 1, actPresent, nil},
		{"401 of another request on that pair: renewed", renewedFor(active(5, 5, pairB), refusedFor, t0), goal{kind: goalRefused, used: 5, cause: "another"}, result{}, at(time.Second, true, true), PhaseSpending, 1, actPresent, nil},
		{"424 after a plain renewal elsewhere: still a 2FA step", active(5, 5, pairB), goal{kind: goalStepUp, used: 3, cause: refusedFor}, result{}, withHandler(at(0, true, true)), PhaseActive, 0, actAskCode, nil},
		{"424 on an older pair that a 2FA step replaced: answered", stepped(active(5, 5, pairB)), goal{kind: goalStepUp, used: 3, cause: refusedFor}, result{}, withHandler(at(0, true, true)), PhaseActive, 0, actDone, nil},
		{"424 without a handler", active(5, 5, pairB), goal{kind: goalStepUp, used: 5, cause: refusedFor}, result{}, at(0, true, true), PhaseActive, 0, actDone, ErrTwoFactorExpired},
		{"the handler's code for a 424: spending, then the 2FA step", active(5, 5, pairB), goal{kind: goalStepUp, used: 5, cause: refusedFor}, result{kind: ansCode, code: "123456"}, withHandler(at(0, true, true)), PhaseSpending, 1, actPresent, nil},
		{"pending step, no handler", pendingAfter(6), goal{kind: goalUsable, used: 6}, result{}, at(0, false, false), PhasePending2FA, 0, actDone, ErrTwoFactorRequired},
		{"pending step, handler: asked once", pendingAfter(6), goal{kind: goalUsable, used: 6}, result{}, withHandler(at(0, false, false)), PhasePending2FA, 0, actAskCode, nil},
		{"CompleteTwoFactor: spending, then the code", pendingAfter(6), goal{kind: goalCode, code: "123456"}, result{}, at(0, false, false), PhaseSpending, 1, actPresent, nil},
		{"another store spends; its token still valid: served", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{}, at(time.Second, false, true), PhaseSpending, 0, actDone, nil},
		{"another store spends; its token expired: never presented here", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{}, at(time.Second, false, false), PhaseSpending, 0, actDone, errSpendingElsewhere},
		{"another store's spending, not abandoned until seen unchanged here long enough", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{}, at(2*time.Minute, false, false), PhaseSpending, 0, actDone, errSpendingElsewhere},
		{"a spending seen unchanged for twice the timeout: the session ends, its token never presented", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{}, abandoned(at(2*time.Minute, false, false)), PhaseEnded, 1, actDone, ErrLoginRequired},
		{"abandoned, with credentials: log in", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{}, withCredentials(abandoned(at(2*time.Minute, false, false))), PhaseEnded, 1, actLogin, nil},
		{"a refresh's pair: active, a new identity", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{kind: ansPair, pair: pairB}, at(0, false, false), PhaseActive, 1, actDone, nil},
		{"a refresh answered with requires_2fa: pending, handler asked", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{kind: ansPair, pair: pending}, withHandler(at(0, false, false)), PhasePending2FA, 1, actAskCode, nil},
		{"a 2FA step answered with requires_2fa again: the caller's", spending(pendingAfter(7)), goal{kind: goalCode, code: "1", stepped: true}, result{kind: ansPair, pair: pending}, withHandler(at(0, false, false)), PhasePending2FA, 1, actDone, ErrTwoFactorRequired},
		{"refresh token refused, or spent with its answer lost: ended", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{kind: ansEnded, err: errors.New("401")}, at(0, false, false), PhaseEnded, 1, actDone, ErrLoginRequired},
		{"passing trouble: back to active, nothing spent", spending(active(7, 6, pairA)), goal{kind: goalUsable, used: 6}, result{kind: ansFailed, err: errors.New("503")}, at(0, false, false), PhaseActive, 1, actDone, errors.New("503")},
		{"Logout, valid token: revoke first", active(5, 5, pairA), goal{kind: goalLogout}, result{}, at(0, true, true), PhaseActive, 0, actRevoke, nil},
		{"Logout, expired token: renewed first, to revoke", active(5, 5, pairA), goal{kind: goalLogout}, result{}, at(0, false, false), PhaseSpending, 1, actPresent, nil},
		{"Logout's renewal answered: revoke with the new token", spending(active(6, 5, pairA)), goal{kind: goalLogout}, result{kind: ansPair, pair: pairB}, at(0, false, false), PhaseActive, 1, actRevoke, nil},
		{"revoked: logged out", active(5, 5, pairA), goal{kind: goalLogout}, result{kind: ansRevoked}, at(0, true, true), PhaseLoggedOut, 1, actDone, nil},
		{"not revoked: logged out here all the same", active(5, 5, pairA), goal{kind: goalLogout}, result{kind: ansRevoked, err: errors.New("500")}, at(0, true, true), PhaseLoggedOut, 1, actDone, ErrNotRevoked},
		{"LogoutLocal", active(5, 5, pairA), goal{kind: goalLogoutLocal}, result{}, at(0, true, true), PhaseLoggedOut, 1, actDone, nil},
		{"Logout when logged out already: nothing written", loggedOut(active(5, 5, pairA)), goal{kind: goalLogout}, result{}, at(0, false, false), PhaseLoggedOut, 0, actDone, nil},
		{"Logout of a step a renewal was answered with: the replaced token revoked", pendingAfter(6), goal{kind: goalLogout}, result{}, func() rules { x := at(0, false, false); x.replaced = true; return x }(), PhasePending2FA, 0, actRevoke, nil},
		{"another API's session: its tokens never sent here", foreign, goal{kind: goalUsable, used: 4}, result{}, at(0, false, true), PhaseActive, 0, actDone, ErrLoginRequired},
		{"Logout of another API's session: logged out, nothing sent", foreign, goal{kind: goalLogout}, result{}, at(0, true, true), PhaseLoggedOut, 1, actDone, nil},
		{"nothing known: log in", Record{}, goal{kind: goalUsable}, result{}, at(0, false, false), "", 0, actDone, ErrLoginRequired},
		{"nothing known, with credentials: log in by itself", Record{}, goal{kind: goalUsable}, result{}, withCredentials(at(0, false, false)), "", 0, actLogin, nil},
		{"logged out, with credentials: no login by itself", loggedOut(active(5, 5, pairA)), goal{kind: goalUsable}, result{}, withCredentials(at(0, false, false)), PhaseLoggedOut, 0, actDone, ErrLoginRequired},
		{"a login over anything: active, a new identity", spending(active(7, 6, pairA)), goal{kind: goalAdopt, pair: pairB}, result{}, at(0, false, false), PhaseActive, 1, actDone, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, act := step(tt.rec, tt.goal, tt.ans, tt.x)
			assert.Equal(t, tt.phase, got.Phase, "phase")
			assert.Equal(t, tt.rec.Generation+tt.grows, got.Generation, "generation")
			assert.Equal(t, tt.act, act.kind, "action")
			switch {
			case tt.wantErr == nil:
				assert.NoError(t, act.err)
			case tt.wantErr.Error() == "503":
				assert.EqualError(t, act.err, "503")
			default:
				assert.ErrorIs(t, act.err, tt.wantErr)
			}
			if got.hasPair() && got.Generation > tt.rec.Generation && got.Token != tt.rec.Token {
				assert.Equal(t, got.Generation, got.Paired, "a new pair's identity is the generation that wrote it")
			}
		})
	}
}

// TestStepIdenticalReissuedTokenIsANewPair: a server that reissues the
// very same access token (a JWT of the same claims within the same
// second) still makes a new pair: the 401 met with the old one is answered
// by it, without a second refresh.
func TestStepIdenticalReissuedTokenIsANewPair(t *testing.T) {
	t.Parallel()
	x := at(0, true, true)
	rec, g, act := step(active(3, 3, pairA), goal{kind: goalRefused, used: 3, cause: refusedFor}, result{}, x)
	assert.Equal(t, actPresent, act.kind)
	same := *pairA
	rec, _, act = step(rec, g, result{kind: ansPair, pair: &same}, x)
	assert.Equal(t, actDone, act.kind)
	assert.Equal(t, uint64(5), rec.Paired)
	_, _, act = step(rec, goal{kind: goalRefused, used: 3, cause: refusedFor}, result{}, x)
	assert.Equal(t, actDone, act.kind, "another request refused with the old pair: answered by the new, identical one")
	assert.NoError(t, act.err)
}

func TestMergeTable(t *testing.T) {
	t.Parallel()
	login := active(5, 5, pairB)
	spentFrom4 := active(6, 6, pairB) // renewed from the pair of generation 4, storage refused it
	unspent := active(6, 4, pairA)    // storage: another store's spending of pair 4 that never reached the server
	endedOf4 := Record{Generation: 5, Phase: PhaseEnded, Paired: 4, API: api}
	reloggedIn := active(7, 7, pairA)
	reloggedIn.LastLogout = 6
	tests := []struct {
		name       string
		held       *Record
		base       uint64
		basePaired uint64
		isLogin    bool
		stored     *Record
		wantGen    uint64
		wantToken  *Token
		back       bool
	}{
		{"nothing anywhere", nil, 0, 0, false, nil, 0, nil, false},
		{"a store's first look", nil, 0, 0, false, ptr(active(4, 4, pairA)), 4, pairA, false},
		{"storage restarted empty: the held pair written back", ptr(active(4, 4, pairA)), 4, 4, false, nil, 4, pairA, true},
		{"storage lost the last writes: the held record written back", ptr(active(6, 6, pairB)), 4, 4, false, ptr(active(4, 4, pairA)), 6, pairB, true},
		{"another store wrote since: its record", ptr(active(4, 4, pairA)), 4, 4, false, ptr(active(6, 6, pairB)), 6, pairB, false},
		{"same generation: storage's", ptr(active(4, 4, pairA)), 4, 4, false, ptr(active(4, 4, pairA)), 4, pairA, false},
		{"a login kept during an outage, a renewal elsewhere since: the login wins", &login, 4, 4, true, ptr(active(6, 6, pairA)), 7, pairB, true},
		{"a login kept during an outage, a logout elsewhere since: the logout wins", &login, 4, 4, true, ptr(loggedOut(active(5, 5, pairA))), 6, nil, false},
		{"a login kept during an outage, a logout then a login since: storage's", &login, 4, 4, true, &reloggedIn, 7, pairA, false},
		{"a renewal kept during an outage, another renewal since: storage's", ptr(active(5, 5, pairB)), 4, 3, false, ptr(active(6, 6, pairA)), 6, pairA, false},
		{"a renewal kept during an outage, a LogoutLocal since at a lower generation: the logout wins", ptr(active(3, 3, pairB)), 1, 1, false, ptr(loggedOut(active(1, 1, pairA))), 2, nil, false},
		{"storage still holds the pair this store renewed from: the renewal wins", &spentFrom4, 4, 4, false, &unspent, 7, pairB, true},
		{"another store ended the spending this store answered: the answer wins", &spentFrom4, 4, 4, false, &endedOf4, 7, pairB, true},
		{"a saved record, storage restarted empty: written back", ptr(active(3, 3, pairB)), 3, 3, false, nil, 3, pairB, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, back := merge(tt.held, tt.base, tt.basePaired, tt.isLogin, tt.stored)
			assert.Equal(t, tt.wantGen, rec.Generation)
			assert.Equal(t, tt.wantToken, rec.Token)
			assert.Equal(t, tt.back, back)
		})
	}
}

func ptr(r Record) *Record { return &r }
