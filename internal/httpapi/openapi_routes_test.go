package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/storage"
	"github.com/backupd/backupd/internal/webhook"
)

// nothing stands in for every dependency of a Server: it has nothing, so
// every handler runs and answers not found.
type nothing struct{}

var errNothing = domain.Errorf(domain.ENOTFOUND, "nothing here")

func (nothing) Submit(context.Context, string) (domain.Backup, error) {
	return domain.Backup{}, errNothing
}
func (nothing) Cancel(context.Context, int64) (domain.Backup, error) {
	return domain.Backup{}, errNothing
}
func (nothing) BytesDone(int64) (int64, bool)           { return 0, false }
func (nothing) Schedule(string) (domain.Schedule, bool) { return domain.Schedule{}, false }
func (nothing) Backup(context.Context, int64) (domain.Backup, error) {
	return domain.Backup{}, errNothing
}
func (nothing) Verify(context.Context, int64) (domain.Backup, error) {
	return domain.Backup{}, errNothing
}
func (nothing) Open(string) (storage.Object, error) { return nil, errNothing }
func (nothing) SourceHealth(context.Context, []string, int) (map[string]domain.SourceHealth, error) {
	return nil, errNothing
}
func (nothing) Receive(*http.Request) (catalog.ReportResult, error) {
	return catalog.ReportResult{}, errNothing
}
func (nothing) Endpoints(context.Context) ([]webhook.EndpointStatus, error) { return nil, nil }
func (nothing) Enable(context.Context, int64) (webhook.EndpointStatus, error) {
	return webhook.EndpointStatus{}, errNothing
}
func (nothing) Backups(context.Context, domain.BackupFilter) ([]domain.Backup, error) {
	return nil, nil
}
func (nothing) ListEvents(context.Context, int64, int) ([]domain.Event, error)   { return nil, nil }
func (nothing) LatestBySource(context.Context) (map[string]domain.Backup, error) { return nil, nil }
func (nothing) ListDeliveries(context.Context, catalog.DeliveryFilter) ([]catalog.Delivery, error) {
	return nil, nil
}
func (nothing) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusBadRequest)
}

// fullServer is a Server with every route registered, including the
// optional ones (WebSocket, verify, webhooks), and these tokens.
func fullServer(tokens ...Token) http.Handler {
	n := nothing{}
	log := slog.New(slog.DiscardHandler)
	return New(Config{Runner: n, Catalog: n, Archives: n, Verifier: n, Hub: n, Tokens: tokens, Logger: log,
		Extra:        WebhookRoutes(n, n, n, log),
		ReloadConfig: func(context.Context) (domain.ReloadResult, error) { return domain.ReloadResult{}, errNothing }}).Handler()
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json does not validate: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIDescribesEveryRoute walks the router: every route is in the
// document, and the document names no route that does not exist.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	var routed []string
	err := chi.Walk(fullServer().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/*" {
			return nil // the dashboard's files, not the API
		}
		routed = append(routed, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is routed but not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("openapi.json describes %s, which is not routed", d)
		}
	}
}

// TestOpenAPIScopes asks every operation of the document with tokens:
// one that has every scope but the one the document names gets 403
// naming it, one with only that scope gets past the check; an operation
// open in the document needs no token.
func TestOpenAPIScopes(t *testing.T) {
	doc := loadOpenAPI(t)
	tokens := []Token{{Name: "none", Value: "token-with-no-scope-000"}}
	for _, s := range domain.Scopes {
		tokens = append(tokens, Token{Name: "only-" + s, Value: "token-only-" + s + "-0000", Scopes: []string{s}})
		var others []string
		for _, o := range domain.Scopes {
			if o != s && o != domain.ScopeAdmin {
				others = append(others, o)
			}
		}
		tokens = append(tokens, Token{Name: "all-but-" + s, Value: "token-all-but-" + s + "-0000", Scopes: others})
	}
	h := fullServer(tokens...)
	ask := func(method, path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, strings.ReplaceAll(path, "{id}", "1"), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			sec := doc.Security
			if op.Security != nil {
				sec = *op.Security
			}
			scope, bearer, open := "", false, false
			for _, req := range sec {
				if len(req) == 0 {
					open = true
				}
				if s, ok := req["bearerAuth"]; ok {
					bearer = true
					if len(s) > 0 {
						scope = s[0]
					}
				}
			}
			switch {
			case open:
				if rec := ask(method, path, ""); rec.Code == http.StatusUnauthorized {
					t.Errorf("%s is open in openapi.json, but answers 401 without a token", name)
				}
			case bearer && scope == "":
				if rec := ask(method, path, "token-with-no-scope-000"); rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
					t.Errorf("%s needs any valid token in openapi.json, but answers %d to one without scopes", name, rec.Code)
				}
			case bearer:
				if rec := ask(method, path, "token-all-but-"+scope+"-0000"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"scope":"`+scope+`"`) {
					t.Errorf("%s needs scope %s in openapi.json, but a token without it gets %d %s", name, scope, rec.Code, rec.Body)
				}
				if rec := ask(method, path, "token-only-"+scope+"-0000"); rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
					t.Errorf("%s needs scope %s in openapi.json, but a token with only it gets %d %s", name, scope, rec.Code, rec.Body)
				}
			}
		}
	}
}
