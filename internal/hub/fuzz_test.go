package hub

import (
	"errors"
	"testing"
)

// FuzzDecodeMessage: any bytes decode to a message with a type, or to a
// decodeError that can be told to the client; never a panic.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"eventType":"register","socket_data":"alice"}`,
		`{"event":"register","socket_data":{"name":"bob"}}`,
		`{"event":"ping"}`,
		`{"eventType":"disconnect"}`,
		`{"eventType":"message","socket_data":"hi"}`,
		`{"eventType":"hello","protocol":2,"since":0,"sources":["a"],"types":["backup.succeeded"]}`,
		`{"eventType":"hello","protocol":3}`,
		`{"eventType":"hello","protocol":2.5,"since":-1}`,
		`{"eventType":"hello","protocol":"2","since":"x"}`,
		`{"eventType":"ping","event":"pong"}`,
		`{"eventType":null}`,
		`{}`, `[]`, `null`, `"ping"`, ``, `{`, "\xff\xfe", ` {"event":"ping"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) || de.code == "" || de.message == "" {
				t.Fatalf("error %v is not a decodeError with a code and a message", err)
			}
			if c := de.closeCode; c != 0 && c != CloseBadMessage {
				t.Fatalf("decode error closes with %d", c)
			}
			return
		}
		if m.Type == "" {
			t.Fatalf("decoded %q to a message without a type", b)
		}
		if m.Type == msgHello && m.Since != nil && *m.Since < 0 {
			t.Fatalf("negative since accepted: %q", b)
		}
	})
}
