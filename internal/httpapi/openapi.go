package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI describes every route of Handler in OpenAPI 3.1; a test keeps
// the two in step (openapi_test.go).
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return openAPI }

// handleOpenAPI serves the document. It needs no token: it says what the
// repository's docs say, holds nothing of this daemon's data, and a
// client needs it to learn how to authenticate in the first place.
func handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
