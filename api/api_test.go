package api

import (
	"strings"
	"testing"
)

func TestOpenAPIIsACopyOfTheContract(t *testing.T) {
	doc := OpenAPI()
	for _, want := range []string{"openapi: 3.0.3", "/auth/token:", "/auth/magic_link:", "/auth/token/refresh:", "/auth/2fa:", "/logout:", "bearerAuth:", "name: X-Api-Key"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("contract lacks %q", want)
		}
	}
	doc[0] = 'X'
	if OpenAPI()[0] != 'o' {
		t.Error("OpenAPI handed out its own bytes: got a change back")
	}
}
