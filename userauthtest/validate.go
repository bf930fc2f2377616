package userauthtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tarilabs/userauth/api"
)

// contract checks requests (and, in tests, answers) against
// api/openapi.yaml.
type contract struct {
	router routers.Router
}

func loadContract() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("userauthtest: loading api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("userauthtest: api/openapi.yaml is invalid: %w", err)
	}
	doc.Servers = nil // match whatever address the fake listens on
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("userauthtest: routing api/openapi.yaml: %w", err)
	}
	return &contract{router: router}, nil
}

// checkRequest validates r (its body is read and put back) and returns a
// one-line description of the first violation, naming the field but never
// its value, or "" when r is valid.
func (c *contract) checkRequest(r *http.Request) string {
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		return "no such operation: " + r.Method + " " + r.URL.Path
	}
	err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	})
	if err == nil {
		return ""
	}
	return describe(err)
}

// describe turns a validation error into "request body: /field: reason",
// leaving out the offending value, which may be a secret.
func describe(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		where := "/" + strings.Join(se.JSONPointer(), "/")
		return "request body: " + where + ": " + se.Reason
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		if re.Reason != "" {
			return re.Reason
		}
	}
	return "request does not match the contract"
}
