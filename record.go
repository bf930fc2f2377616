package userauth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Record is one session as a TokenStorage keeps it. Every write of a
// TokenStore increases its Generation, so that what storage holds tells
// who wrote last without comparing tokens: a record of a higher generation
// is newer, whatever its tokens. Logging out writes a record too (phase
// PhaseLoggedOut), so an empty storage means "nothing known" (a new file,
// a cache restarted empty), never "logged out", and a store that holds a
// good session writes it back.
//
// A TokenStorage stores and returns records whole, and never changes
// them; it need not understand them beyond Generation.
type Record struct {
	// Generation counts the writes of the session; every write increases
	// it by one.
	Generation uint64 `json:"generation"`
	// Phase is what the session is doing.
	Phase Phase `json:"phase"`
	// Token is the pair: complete while active, partial while a 2FA step
	// is pending, the one whose refresh token is being presented while
	// spending; nil when ended or logged out.
	Token *Token `json:"token,omitempty"`
	// Paired is the generation that first wrote Token: the pair's identity,
	// even if a server issues the same token twice.
	Paired uint64 `json:"paired,omitempty"`
	// API is the base URL of the API that issued Token. A store never sends
	// a record's tokens to another API.
	API string `json:"api,omitempty"`
	// Replaced, while a 2FA step that a renewal was answered with is
	// pending, is the complete pair the step replaced: its access token,
	// handed out before, opens the account until it expires, so Logout
	// revokes with it.
	Replaced *Token `json:"replaced,omitempty"`
	// Method is the method of the last 2FA step, asked again when the 2FA
	// grace period expires (424).
	Method TwoFactorMethod `json:"method,omitempty"`
	// Stepped reports that a 2FA step made Token: a 424 met with an older
	// pair is answered by it, without another step.
	Stepped bool `json:"stepped,omitempty"`
	// RenewedFor is a digest of the request whose 401 (or 424) made this
	// pair, and RenewedAt when: the same refusal of this pair soon after
	// is the endpoint's answer, not the token's, and renews nothing.
	RenewedFor string    `json:"renewed_for,omitempty"`
	RenewedAt  time.Time `json:"renewed_at,omitzero"`
	// LastLogout is the generation of the last logout: a login made where
	// storage could not see it loses to a logout made since.
	LastLogout uint64 `json:"last_logout,omitempty"`
}

// Phase is what a session is doing; see Record.
type Phase string

// The phases of a session.
const (
	// PhaseActive: a complete pair, handed out.
	PhaseActive Phase = "active"
	// PhasePending2FA: a login or refresh was answered with requires_2fa;
	// the pair is partial until the step is done.
	PhasePending2FA Phase = "pending_2fa"
	// PhaseSpending: a store is presenting the pair's refresh token (a
	// refresh or a 2FA step); its access token is still handed out.
	PhaseSpending Phase = "spending"
	// PhaseEnded: the server refused the refresh token, or spent it and its
	// answer was lost. A login starts a new session.
	PhaseEnded Phase = "ended"
	// PhaseLoggedOut: a Logout ended the session on purpose. A store
	// never logs in again by itself after it (see WithCredentials).
	PhaseLoggedOut Phase = "logged_out"
)

// ErrConflict is what a TokenStorage's Save wraps (for errors.Is) when
// the record it holds has the same generation as the one saved, or a
// higher one: another store wrote meanwhile, and the save changed
// nothing.
var ErrConflict = errors.New("userauth: the stored session changed meanwhile")

// hasPair reports whether r's phase carries a pair.
func (r *Record) hasPair() bool {
	return r != nil && r.Token != nil && (r.Phase == PhaseActive || r.Phase == PhasePending2FA || r.Phase == PhaseSpending)
}

// complete is r's pair when it is complete (active, or spending a
// complete pair), else nil.
func (r *Record) complete() *Token {
	if !r.hasPair() || r.Token.Requires2FA != "" || r.Phase == PhasePending2FA {
		return nil
	}
	return r.Token
}

// clone is a copy of r that shares no Token with it.
func (r *Record) clone() *Record {
	c := *r
	if r.Token != nil {
		t := *r.Token
		c.Token = &t
	}
	if r.Replaced != nil {
		t := *r.Replaced
		c.Replaced = &t
	}
	return &c
}

// generation is r's, 0 for none.
func (r *Record) generation() uint64 {
	if r == nil {
		return 0
	}
	return r.Generation
}

// check reports a record that no store could have written: an unknown
// phase, or a pair without its tokens or with an access token no header
// can carry. A TokenStorage calls it on what it reads.
func (r *Record) check() error {
	switch r.Phase {
	case PhaseActive, PhasePending2FA, PhaseSpending:
		switch {
		case r.Token == nil || r.Token.AccessToken == "" || r.Token.RefreshToken == "":
			return errors.New("missing access or refresh token")
		case !validHeaderValue(r.Token.AccessToken):
			return errors.New("the access token holds a control character, which no HTTP header can carry")
		}
	case PhaseEnded, PhaseLoggedOut:
	default:
		return fmt.Errorf("unknown phase %q", r.Phase)
	}
	if r.Generation == 0 {
		return errors.New("generation 0")
	}
	return nil
}

// DecodeRecord reads a record as a TokenStorage stored it with
// json.Marshal, and checks it. It also reads what versions before records
// stored, a bare Token, as a record of generation 1, so that a storage's
// existing sessions survive the upgrade; the next save writes a record.
// Its errors never quote the data.
func DecodeRecord(data []byte) (*Record, error) {
	var probe struct {
		Generation *uint64 `json:"generation"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, errors.New(jsonErrorWithoutContent(err))
	}
	if probe.Generation == nil { // a bare Token
		var t Token
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, errors.New(jsonErrorWithoutContent(err))
		}
		if t.Expiry.IsZero() {
			t.Expiry = jwtExpiry(t.AccessToken)
		}
		phase := PhaseActive
		if t.Requires2FA != "" {
			phase = PhasePending2FA
		}
		r := &Record{Generation: 1, Phase: phase, Token: &t, Paired: 1, Method: t.Requires2FA}
		return r, r.check()
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, errors.New(jsonErrorWithoutContent(err))
	}
	return &r, r.check()
}

// jsonErrorWithoutContent describes a JSON error by its kind and offset,
// never by the text it met (a token, maybe).
func jsonErrorWithoutContent(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "not a JSON object"
}

// String describes r without its tokens.
func (r Record) String() string {
	tok := "none"
	if r.Token != nil {
		tok = r.Token.String()
	}
	return fmt.Sprintf("userauth.Record{Generation:%d, Phase:%s, Token:%s, API:%q}", r.Generation, r.Phase, tok, r.API)
}

// GoString is String: %#v shows no token either.
func (r Record) GoString() string { return r.String() }

// LogValue implements slog.LogValuer without the tokens.
func (r Record) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Uint64("generation", r.Generation), slog.String("phase", string(r.Phase)), slog.String("api", r.API)}
	if r.Token != nil {
		attrs = append(attrs, slog.Any("token", *r.Token))
	}
	return slog.GroupValue(attrs...)
}

// sameAPI reports whether base URLs a and b name one API: the same
// scheme and host (a default port or none), and the same path but for a
// final slash.
func sameAPI(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && sameHost(ua.Host, ub.Host, strings.ToLower(ua.Scheme)) &&
		strings.TrimSuffix(cleanPath(ua.Path), "/") == strings.TrimSuffix(cleanPath(ub.Path), "/")
}

// digest is a short digest of s: what a record keeps of a request.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
