package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// Message types, the value of "eventType". Protocol 1 names are the
// original ones and must not change.
const (
	msgSocketConnected  = "socket_connected"
	msgRegister         = "register"
	msgSocketAdded      = "socket_added"
	msgPing             = "ping"
	msgPong             = "pong"
	msgDisconnect       = "disconnect"
	msgSocketDisconnect = "socket_disconnect"
	msgBackup           = "backup"
	msgMessage          = "message"
	msgHello            = "hello"
	msgWelcome          = "welcome"
	msgEvent            = "event"
	msgError            = "error"
)

// Error codes carried by {"eventType":"error"} messages.
const (
	codeBadMessage          = "bad_message"
	codeUnknownEventType    = "unknown_event_type"
	codeUnsupportedProtocol = "unsupported_protocol"
	codeBadHello            = "bad_hello"
	codeReplayFailed        = "replay_failed"
	codeRateLimited         = "rate_limited"
)

// Close codes. 4000-4999 are reserved by RFC 6455 for applications; these
// are documented in docs/protocol.md and clients branch on them.
const (
	CloseBadMessage          = 4000
	CloseUnsupportedProtocol = 4001
	CloseSlowConsumer        = 4002
)

// supportedProtocols is what the server names when it refuses a hello.
var supportedProtocols = []int{1, 2}

// clientMessage is any message a client sends, decoded leniently: the
// original client keys its messages with "event" rather than "eventType".
type clientMessage struct {
	Type       string
	SocketData json.RawMessage
	Protocol   int
	Since      *int64 // nil: live only, from the current head
	Sources    []string
	Types      []string
}

// wireClientMessage is the JSON shape; pointers tell absent from zero.
type wireClientMessage struct {
	EventType  *string          `json:"eventType"`
	Event      *string          `json:"event"`
	SocketData json.RawMessage  `json:"socket_data"`
	Protocol   *json.RawMessage `json:"protocol"`
	Since      *int64           `json:"since"`
	Sources    []string         `json:"sources"`
	Types      []string         `json:"types"`
}

// decodeError is a problem with a client's message, told back to it as an
// error message; fatal ones also end the session with closeCode.
type decodeError struct {
	code      string
	message   string
	closeCode int // 0: keep the session open
}

func (e *decodeError) Error() string { return e.code + ": " + e.message }

// decodeMessage parses one text message from a client. It never panics on
// any input (see FuzzDecodeMessage); what it returns either names a type or
// is an error.
func decodeMessage(b []byte) (clientMessage, error) {
	var m clientMessage
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return m, &decodeError{codeBadMessage, "a message must be a JSON object with an eventType", CloseBadMessage}
	}
	var w wireClientMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return m, &decodeError{codeBadMessage, fmt.Sprintf("malformed JSON: %v", err), CloseBadMessage}
	}
	switch {
	case w.EventType != nil && w.Event != nil && *w.EventType != *w.Event:
		return m, &decodeError{codeBadMessage, fmt.Sprintf("eventType %q and event %q disagree; send one of them", *w.EventType, *w.Event), 0}
	case w.EventType != nil:
		m.Type = *w.EventType
	case w.Event != nil:
		m.Type = *w.Event
	}
	if m.Type == "" {
		return m, &decodeError{codeBadMessage, "missing eventType", 0}
	}
	m.SocketData, m.Since, m.Sources, m.Types = w.SocketData, w.Since, w.Sources, w.Types
	if m.Type != msgHello {
		return m, nil
	}
	if w.Protocol == nil || json.Unmarshal(*w.Protocol, &m.Protocol) != nil {
		// Not a whole number (absent, null, "2", 2.5): no version we speak.
		m.Protocol = 0
	}
	if m.Since != nil && *m.Since < 0 {
		return m, &decodeError{codeBadHello, fmt.Sprintf("since must be 0 or more, got %d", *m.Since), CloseBadMessage}
	}
	for _, t := range m.Types {
		if !domain.IsEventType(t) {
			// A misspelt filter would otherwise match nothing, silently.
			return m, &decodeError{codeBadHello, fmt.Sprintf("unknown event type %q in types; known: %s", t, strings.Join(domain.EventTypes, ", ")), CloseBadMessage}
		}
	}
	return m, nil
}

// greeting is the first message of every session.
func greeting(id string) any {
	return map[string]any{"eventType": msgSocketConnected, "socket_data": map[string]string{"id": id}}
}

// socketAdded announces a client's register message to everyone.
func socketAdded(id string, data json.RawMessage) any {
	return map[string]any{"eventType": msgSocketAdded, "socket_data": map[string]any{"id": id, "socket_data": rawData(data)}}
}

// socketDisconnect announces the end of a session.
func socketDisconnect(id string) any {
	return map[string]any{"eventType": msgSocketDisconnect, "socket_data": map[string]string{"id": id}}
}

// welcome answers a hello.
func welcome(protocol int, id string, head int64) any {
	return map[string]any{"eventType": msgWelcome, "protocol": protocol, "client_id": id, "head": head}
}

// errorMessage tells a client what was wrong with what it sent.
func errorMessage(code, text string) any {
	m := map[string]any{"eventType": msgError, "code": code, "message": text}
	if code == codeUnsupportedProtocol {
		m["protocols"] = supportedProtocols
	}
	return m
}

// p1Message is how protocol 1 sees an event: stored events are the
// original "backup" message; ephemeral ones are named by their type, so a
// test message is {"eventType":"message","socket_data":{"id":..,"text":..}}.
func p1Message(ev domain.Event) any {
	data := rawData(ev.Data)
	if ev.Ephemeral {
		return map[string]any{"eventType": ev.Type, "socket_data": data}
	}
	return map[string]any{"eventType": msgBackup, "id": ev.ID, "type": ev.Type, "socket_data": data}
}

// p2Event is how protocol 2 sees an event.
type p2Event struct {
	EventType string          `json:"eventType"`
	ID        int64           `json:"id"`
	Type      string          `json:"type"`
	BackupID  int64           `json:"backup_id,omitempty"`
	Source    string          `json:"source,omitempty"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`
	Ephemeral bool            `json:"ephemeral,omitempty"`
}

func p2Message(ev domain.Event) p2Event {
	return p2Event{msgEvent, ev.ID, ev.Type, ev.BackupID, ev.Source, ev.Time, rawData(ev.Data), ev.Ephemeral}
}

// rawData makes an event's payload safe to embed: absent becomes null, and
// bytes that are not JSON, or not UTF-8, are made safe (domain.SafeJSON)
// rather than breaking the whole message, or the connection, for every
// client.
func rawData(d json.RawMessage) json.RawMessage {
	if len(d) == 0 {
		return json.RawMessage("null")
	}
	return domain.SafeJSON(d)
}
