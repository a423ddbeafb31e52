package hub

import (
	"net/http"
	"testing"
)

// TestUnsupportedProtocol: an error naming the protocols spoken, then 4001.
func TestUnsupportedProtocol(t *testing.T) {
	// Each case has a hub of its own, so no socket_disconnect of another
	// case's session comes in between.
	for _, hello := range []string{
		`{"eventType":"hello","protocol":3,"since":0}`,
		`{"eventType":"hello","protocol":0}`,
		`{"event":"hello","protocol":"2"}`,
		`{"eventType":"hello"}`,
	} {
		t.Run(hello, func(t *testing.T) {
			c := dial(t, newTestHub(t, Options{}).url, nil)
			c.greeted()
			c.send(hello)
			m := c.read()
			if m["eventType"] != "error" || m["code"] != "unsupported_protocol" || m["message"] == "" {
				t.Fatalf("got %v", m)
			}
			if p, _ := m["protocols"].([]any); len(p) != 2 || p[0] != 1.0 || p[1] != 2.0 {
				t.Fatalf("protocols = %v, want [1,2]", m["protocols"])
			}
			c.expectClose(CloseUnsupportedProtocol)
		})
	}
}

// TestMalformedJSONCloses4000 and the other bad-input cases.
func TestBadMessages(t *testing.T) {
	for _, in := range []string{`not json`, `{"eventType":`, `[1,2]`, `{"eventType":"hello","protocol":2,"since":-1}`,
		`{"eventType":"hello","protocol":2,"types":["backup.succeeded","backup.succeded"]}`} {
		t.Run(in, func(t *testing.T) {
			c := dial(t, newTestHub(t, Options{}).url, nil)
			c.greeted()
			c.send(in)
			if m := c.read(); m["eventType"] != "error" || m["message"] == "" {
				t.Fatalf("got %v", m)
			}
			c.expectClose(CloseBadMessage)
		})
	}

	// An unknown type, or a hello too late, is an error but not the end.
	c := dial(t, newTestHub(t, Options{}).url, nil)
	c.greeted()
	c.send(`{"eventType":"subscribe"}`)
	if m := c.read(); m["code"] != "unknown_event_type" {
		t.Fatalf("got %v", m)
	}
	c.send(`{"eventType":"hello","protocol":2}`)
	if m := c.read(); m["code"] != "bad_hello" {
		t.Fatalf("got %v", m)
	}
	c.send(`{"eventType":"ping","event":"register"}`)
	if m := c.read(); m["code"] != "bad_message" {
		t.Fatalf("got %v", m)
	}
	c.send(`{"event":"ping"}`)
	c.expect(`{"eventType":"pong"}`)
}

// TestOrigin: no Origin and same host pass, configured origins pass, other
// sites get 403 before any upgrade.
func TestOrigin(t *testing.T) {
	th := newTestHub(t, Options{AllowedOrigins: []string{"https://dash.example.com"}})
	host := th.url[len("ws://"):]
	for _, origin := range []string{"", "http://" + host, "https://dash.example.com"} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		dial(t, th.url, h).greeted()
	}
	h := http.Header{"Origin": {"https://evil.example.com"}}
	_, resp, err := dialRaw(th.url, h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err=%v resp=%v, want 403", err, resp)
	}
}
