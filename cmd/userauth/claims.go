package main

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/tarilabs/userauth"
)

// expiryOf is when tok's access token expires: the store's record, else
// the token's exp claim; zero when neither says.
func expiryOf(tok *userauth.Token) time.Time {
	if !tok.Expiry.IsZero() {
		return tok.Expiry
	}
	return readClaims(tok.AccessToken).exp
}

// claims are what status shows of an access token.
type claims struct {
	sub, email string
	exp        time.Time
}

// readClaims reads the sub, email and exp claims of a JWT without
// verifying its signature: the CLI only shows them. Claims that are
// absent or of another type are left empty.
func readClaims(jwt string) claims {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims{}
	}
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return claims{}
	}
	var c claims
	c.sub, _ = m["sub"].(string)
	c.email, _ = m["email"].(string)
	if exp, ok := m["exp"].(float64); ok && exp > 0 && exp < 253402300800 && exp == math.Trunc(exp) { // before year 10000
		c.exp = time.Unix(int64(exp), 0)
	}
	return c
}
