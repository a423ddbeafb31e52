package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/backupd/backupd/internal/testdaemon"
)

const openAPIToken = "openapi-test-token-0123456789"

// openAPICheck sends requests to a real daemon and validates each request
// and its answer against the operation of the document they are for.
type openAPICheck struct {
	t   *testing.T
	doc *openapi3.T
	d   *testdaemon.Daemon
}

// call sends a request for the operation at template to path, validates
// the request (it should validate unless it is one made to be refused)
// and the answer against that operation, and returns the answer's status
// and body.
func (c *openAPICheck) call(r apiRequest) (int, []byte) {
	c.t.Helper()
	method, template, path, ctype, body, token := r.method, r.template, r.path, r.ctype, r.body, r.token
	req, err := http.NewRequest(method, c.d.URL+path, bodyReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	item := c.doc.Paths.Value(template)
	if item == nil || item.GetOperation(method) == nil {
		c.t.Fatalf("openapi.json has no %s %s", method, template)
	}
	route := &routers.Route{Spec: c.doc, Path: template, PathItem: item, Method: method, Operation: item.GetOperation(method)}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams(template, path), Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); (err == nil) == r.invalid {
		c.t.Errorf("%s %s: the request validates: %v, want %v", method, path, err, !r.invalid)
	}
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body)) // ValidateRequest read it
	}
	resp, err := c.d.HTTPClient().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s: %d %s\n%s\ndoes not match openapi.json: %v", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), clip(got), err)
	}
	return resp.StatusCode, got
}

// apiRequest is a request to the operation at template (a path of the
// document), sent to path; invalid says it is made to be refused.
type apiRequest struct {
	method, template, path, ctype, body, token string
	invalid                                    bool
}

// bodyReader is body, or http.NoBody for none: a request without a body
// must say so (Content-Length: 0), not be sent chunked.
func bodyReader(body string) io.Reader {
	if body == "" {
		return http.NoBody
	}
	return strings.NewReader(body)
}

// pathParams matches path against template, both split at "/".
func pathParams(template, path string) map[string]string {
	out := map[string]string{}
	tparts, pparts := strings.Split(template, "/"), strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i, tp := range tparts {
		if strings.HasPrefix(tp, "{") && i < len(pparts) {
			out[strings.Trim(tp, "{}")] = pparts[i]
		}
	}
	return out
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// TestOpenAPIMatchesTheDaemon validates real answers of a daemon, and
// the requests that got them, against openapi.json: a backup created,
// listed, got, downloaded; events, sources, health; and errors.
func TestOpenAPIMatchesTheDaemon(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("application/zstd", openapi3filter.FileBodyDecoder)
	d := testdaemon.Start(t, testdaemon.Options{Token: openAPIToken, Config: `
auth:
  tokens: ["` + openAPIToken + `"]
sources:
  hello:
    kind: command
    command: ["sh", "-c", "echo hello"]
`})
	c := &openAPICheck{t: t, doc: loadOpenAPI(t), d: d}
	tok := openAPIToken

	code, body := c.call(apiRequest{"POST", "/api/v1/backups", "/api/v1/backups", "application/json", `{"source":"hello"}`, tok, false})
	var b struct{ ID int64 }
	if err := json.Unmarshal(body, &b); code != http.StatusAccepted || err != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	d.WaitBackup(b.ID)
	id := "/api/v1/backups/" + jsonInt(b.ID)
	c.call(apiRequest{"GET", "/api/v1/backups/{id}", id, "", "", tok, false})
	c.call(apiRequest{"GET", "/api/v1/backups", "/api/v1/backups?limit=1&source=hello", "", "", tok, false})
	c.call(apiRequest{"GET", "/api/v1/events", "/api/v1/events?since=0&limit=10", "", "", tok, false})
	c.call(apiRequest{"GET", "/api/v1/sources", "/api/v1/sources", "", "", tok, false})
	c.call(apiRequest{"GET", "/api/v1/auth", "/api/v1/auth", "", "", tok, false})
	c.call(apiRequest{"GET", "/healthz", "/healthz", "", "", "", false})
	c.call(apiRequest{"GET", "/metrics", "/metrics", "", "", tok, false})
	c.call(apiRequest{"GET", "/api/v1/openapi.json", "/api/v1/openapi.json", "", "", "", false})
	c.call(apiRequest{"GET", "/api/v1/backups/{id}/archive", id + "/archive", "", "", tok, false})
	_, body = c.call(apiRequest{"POST", "/api/v1/backups/{id}/archive/link", id + "/archive/link", "", "", tok, false})
	var link struct{ URL string }
	json.Unmarshal(body, &link)
	c.call(apiRequest{"GET", "/api/v1/backups/{id}/archive", link.URL, "", "", "", false})
	c.call(apiRequest{"GET", "/api/v1/webhooks/endpoints", "/api/v1/webhooks/endpoints", "", "", tok, false})
	c.call(apiRequest{"GET", "/api/v1/webhooks/deliveries", "/api/v1/webhooks/deliveries", "", "", tok, false})

	// Errors: each a problem+json with its code.
	for _, e := range []struct {
		apiRequest
		status int
	}{
		{apiRequest{"GET", "/api/v1/backups/{id}", "/api/v1/backups/999", "", "", tok, false}, 404},
		{apiRequest{"GET", "/api/v1/backups/{id}", id, "", "", "", false}, 401},
		{apiRequest{"GET", "/api/v1/backups", "/api/v1/backups?status=lost", "", "", tok, true}, 400},
		{apiRequest{"POST", "/api/v1/backups", "/api/v1/backups", "application/json", `{"source":"nope"}`, tok, false}, 404},
		{apiRequest{"POST", "/api/v1/backups", "/api/v1/backups", "text/plain", `{"source":"hello"}`, tok, true}, 415},
		{apiRequest{"POST", "/api/v1/backups/{id}/cancel", id + "/cancel", "", "", tok, false}, 409},
		{apiRequest{"POST", "/api/v1/webhooks/backup", "/api/v1/webhooks/backup", "application/json", `{}`, "", true}, 401},
	} {
		if code, body := c.call(e.apiRequest); code != e.status || !bytes.Contains(body, []byte(`"code":`)) {
			t.Errorf("%s %s: %d %s, want %d with a code", e.method, e.path, code, body, e.status)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
