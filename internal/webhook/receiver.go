package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

// MaxBody is the largest report accepted, in bytes.
const MaxBody = 1 << 20

// Submitter stores one report durably (an *Intake).
type Submitter interface {
	Submit(ctx context.Context, report domain.Backup) (catalog.ReportResult, error)
}

// Receiver turns a signed inbound request into a stored report.
type Receiver struct {
	// trust is what a config reload replaces (Reload).
	trust  atomic.Pointer[receiverTrust]
	intake Submitter
	now    func() time.Time
}

// receiverTrust is whom a Receiver believes: the signing secrets and the
// proxies whose X-Forwarded-For it takes.
type receiverTrust struct {
	verifier *Verifier
	trusted  []netip.Prefix
}

// NewReceiver returns a Receiver that checks signatures with secrets (whsec_),
// believes X-Forwarded-For only from peers in trustedProxies (CIDRs), and
// stores reports through intake.
func NewReceiver(secrets, trustedProxies []string, intake Submitter) (*Receiver, error) {
	r := &Receiver{intake: intake, now: time.Now}
	if err := r.Reload(secrets, trustedProxies); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload replaces the secrets and trusted proxies, for a config reload;
// on an error nothing changes. A request being received finishes with what
// it started with.
func (rc *Receiver) Reload(secrets, trustedProxies []string) error {
	v, err := NewVerifier(secrets, DefaultTolerance)
	if err != nil {
		return err
	}
	t := &receiverTrust{verifier: v}
	for i, c := range trustedProxies {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("webhooks.trusted_proxies[%d]: %w", i, err)
		}
		t.trusted = append(t.trusted, p.Masked())
	}
	rc.trust.Store(t)
	return nil
}

// Receive checks, parses and stores the report in req, and returns the
// stored record: the new one, or the one stored before under the same
// webhook-id (Created false). It returns only after the commit. Errors are
// typed: EUNAUTHORIZED (signature), ETOOLARGE, EINVALID (not a JSON object),
// EUNAVAILABLE (shutting down). Nothing is stored when it fails.
func (rc *Receiver) Receive(req *http.Request) (catalog.ReportResult, error) {
	res, err := rc.receive(req)
	if err != nil {
		rejectedTotal.WithLabelValues(rejectReason(err)).Inc()
		return res, err
	}
	receivedTotal.Inc()
	return res, nil
}

func (rc *Receiver) receive(req *http.Request) (catalog.ReportResult, error) {
	// Headers first: a request that is not even signed is refused before
	// its body is read.
	trust := rc.trust.Load()
	if _, err := trust.verifier.Headers(req.Header); err != nil {
		return catalog.ReportResult{}, err
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil {
		return catalog.ReportResult{}, domain.Errorf(domain.EINVALID, "read report body: %v", err)
	}
	if len(body) > MaxBody {
		return catalog.ReportResult{}, domain.Errorf(domain.ETOOLARGE, "the report is larger than %d bytes", MaxBody)
	}
	id, err := trust.verifier.Verify(req.Header, body)
	if err != nil {
		return catalog.ReportResult{}, err
	}
	b, err := ParseReport(body)
	if err != nil {
		return catalog.ReportResult{}, err
	}
	now := rc.now().UTC()
	b.WebhookID, b.SenderIP, b.CreatedAt, b.ReceivedAt = id, trust.senderIP(req), now, &now
	res, err := rc.intake.Submit(req.Context(), b)
	if err != nil {
		return res, fmt.Errorf("store report %q: %w", id, err)
	}
	return res, nil
}

// senderIP is the peer's address, or, when the peer is a trusted proxy, the
// rightmost address in X-Forwarded-For that is not itself a trusted proxy
// (the leftmost entries are the client's to write, and may be forged).
func (rc *receiverTrust) senderIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !rc.isTrusted(peer) {
		return host
	}
	var hops []string
	for _, v := range req.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	ip := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: the last good hop is all we can vouch for
		}
		ip = a.Unmap()
		if !rc.isTrusted(ip) {
			break
		}
	}
	return ip.String()
}

func (rc *receiverTrust) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range rc.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func rejectReason(err error) string {
	var e *domain.Error
	if errors.As(err, &e) {
		if r, ok := e.Extra["reason"].(string); ok {
			return r
		}
	}
	switch domain.ErrorCode(err) {
	case domain.ETOOLARGE:
		return reasonTooLarge
	case domain.EINVALID:
		return reasonMalformed
	case domain.EUNAVAILABLE:
		return reasonUnavailable
	}
	return reasonInternal
}
