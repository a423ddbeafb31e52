package webhook

import (
	"encoding/json"
	"testing"
)

// str's shortcut for plain strings must decode exactly as encoding/json.
func FuzzStr(f *testing.F) {
	for _, s := range []string{`"db1"`, `""`, `"a\"b"`, `"tab\there"`, `"\u00e9t\u00e9"`, `"été"`, `"x\\y"`,
		`"` + "\x7f" + `"`, `"\ud800"`, `"line\nbreak"`, `"s3://b/k.tar.zst"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || json.Unmarshal(raw, &want) != nil {
			return // str sees only whole JSON strings, as a decoded field holds them
		}
		got, ok := str(raw)
		if !ok || got != want {
			t.Fatalf("str(%q) = %q, %v; encoding/json says %q", raw, got, ok, want)
		}
	})
}
