// Package api holds the API contract as an OpenAPI 3.0 document, the single
// source of truth that the fake server in userauthtest validates requests
// against.
package api

import (
	_ "embed" // for the contract file
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns a copy of the contract, api/openapi.yaml.
func OpenAPI() []byte {
	return append([]byte(nil), openAPI...)
}
