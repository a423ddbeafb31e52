package hub

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// ServeHTTP upgrades the request to a WebSocket session and serves it until
// it ends. Authentication is the middleware's job, before this.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already answered with a 4xx.
		h.log.Info("websocket upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	id := uuid.NewString()
	c := &client{
		h:        h,
		conn:     conn,
		id:       id,
		log:      h.log.With("client", id, "remote", r.RemoteAddr),
		queue:    make(chan outgoing, h.opt.QueueSize),
		closeNow: make(chan struct{}),
		readDone: make(chan struct{}),
		proto:    1,
		handoff:  make(chan handoff, 1),
		fanOut:   rate.NewLimiter(fanOutRate, fanOutBurst),
	}
	c.wcond = sync.NewCond(&c.wmu)
	switch nc := conn.NetConn().(type) {
	case *tls.Conn:
		if sc, ok := nc.NetConn().(syscall.Conn); ok && tlsByWorkers {
			c.tlsConn = nc
			c.tlsRaw, _ = sc.SyscallConn()
		}
	case syscall.Conn:
		c.raw, _ = nc.SyscallConn()
	}
	if !h.register(c) {
		_ = conn.Close()
		return
	}
	c.log.Debug("connected")
	go c.writePump()
	c.readPump()
	c.log.Debug("disconnected")
}

// checkOrigin lets through non-browser clients (no Origin), pages served by
// this host, and the configured origins. A browser on another site must not
// be able to ride on a user's credentials.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, allowed := range h.opt.AllowedOrigins {
		allowed = strings.TrimRight(allowed, "/")
		if strings.EqualFold(allowed, origin) || strings.EqualFold(allowed, u.Host) {
			return true
		}
	}
	return false
}
