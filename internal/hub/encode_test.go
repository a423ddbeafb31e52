package hub

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// TestAppendP2EventMatchesMarshal: the fast encoder writes exactly what
// json.Marshal writes, so replayed and live events are the same bytes.
func TestAppendP2EventMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)
	for _, ev := range []domain.Event{
		{ID: 1, Type: "backup.succeeded", BackupID: 7, Source: "db", Time: at, Data: json.RawMessage(`{"id":7,"source":"db"}`)},
		{ID: 2, Type: "report.received", Time: at},
		{ID: 3, Type: "x", Time: at, Data: json.RawMessage(` { "a" : [1, 2 ,"b c"] } `)},
		{ID: 4, Type: "x", Time: at, Data: json.RawMessage(`{"html":"<b>&</b>"}`)},
		{ID: 5, Type: "x", Time: at, Data: json.RawMessage("{\"ls\":\"a\u2028b\u2029\"}")},
		{ID: 6, Type: "x", Time: at, Data: json.RawMessage(`{"u":"é€😀 \u00e9"}`)},
		{ID: 7, Type: "x", Time: at, Data: json.RawMessage(`not json <`)},
		{ID: 8, Type: "x<y", Source: "sé\"q", Time: at, Data: json.RawMessage(`null`)},
		{ID: 0, Type: "message", Time: at, Data: json.RawMessage(`{"text":"hi"}`), Ephemeral: true},
		{ID: 9, Type: "x", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: 10, Type: "x", Time: at.In(time.FixedZone("X", 3600)), Data: json.RawMessage(`"s"`)},
		{ID: 11, Type: "x", Time: time.Time{}, Data: json.RawMessage(`[]`)},
	} {
		want, err := json.Marshal(p2Message(ev))
		got, gotErr := appendP2Event([]byte("prefix"), ev)
		if (err == nil) != (gotErr == nil) {
			t.Fatalf("event %d: json.Marshal error %v, appendP2Event error %v", ev.ID, err, gotErr)
		}
		if err != nil {
			continue
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("event %d:\n got %s\nwant prefix%s", ev.ID, got, want)
		}
	}
}
