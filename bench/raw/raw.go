// Package raw is the "hand-written" peer of the benchmarks: the least code
// that calls the API correctly with net/http and encoding/json, with no
// retries, no typed errors and no limits. It is the practical physical
// limit of one call.
package raw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Client calls the API at BaseURL through HTTP.
type Client struct {
	BaseURL string
	HTTP    *http.Client
}

// Tokens is the token answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Requires2FA  string `json:"requires_2fa"`
}

// Login posts the credentials to /auth/token.
func (c *Client) Login(ctx context.Context, email, password string) (*Tokens, error) {
	return c.post(ctx, "/auth/token", struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{email, password})
}

// RefreshToken posts the refresh token to /auth/token/refresh.
func (c *Client) RefreshToken(ctx context.Context, refreshToken string) (*Tokens, error) {
	return c.post(ctx, "/auth/token/refresh", struct {
		RefreshToken string `json:"refresh_token"`
	}{refreshToken})
}

func (c *Client) post(ctx context.Context, path string, in any) (*Tokens, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body) // read to the end, so the connection is reused
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", path, resp.StatusCode)
	}
	var t Tokens
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
