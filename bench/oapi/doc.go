// Package oapi is the "generated client" peer of the benchmarks: what
// github.com/oapi-codegen/oapi-codegen/v2 makes of api/openapi.yaml. It is
// generated, committed, and never edited by hand.
package oapi

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config config.yaml ../../api/openapi.yaml
