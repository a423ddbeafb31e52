package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/backupd/backupd/internal/domain"
)

// statusByCode is the one table from error codes to HTTP statuses.
var statusByCode = map[string]int{
	domain.EINVALID:      http.StatusBadRequest,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.EFORBIDDEN:    http.StatusForbidden,
	domain.EMISDIRECTED:  http.StatusMisdirectedRequest,
	domain.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.ECONFLICT:     http.StatusConflict,
	domain.ENOTREADY:     http.StatusConflict,
	domain.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	domain.EMETHOD:       http.StatusMethodNotAllowed,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.EINTERNAL:     http.StatusInternalServerError,
}

// StatusFor returns the HTTP status for err's code.
func StatusFor(err error) int {
	if s, ok := statusByCode[domain.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WriteError answers with an RFC 9457 problem+json body. Internal errors are
// logged with their detail and shown to the client as a generic message.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := StatusFor(err)
	if status == http.StatusInternalServerError {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body := map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": domain.ErrorMessage(err),
		"code":   domain.ErrorCode(err),
	}
	var e *domain.Error
	if errors.As(err, &e) {
		for k, v := range e.Extra {
			body[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON body of at most limit bytes into v, refusing
// unknown fields, so that a typo is an error rather than silently ignored.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return domain.Errorf(domain.ETOOLARGE, "request body is larger than %d bytes", limit)
		}
		return domain.Errorf(domain.EINVALID, "request body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return domain.Errorf(domain.EINVALID, "request body has data after the JSON object")
	}
	return nil
}
