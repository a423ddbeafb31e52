package main_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

// documentedShapes reads the JSON examples of docs/cli.md, keyed by the
// name after ```json.
func documentedShapes(t *testing.T) map[string]map[string]any {
	t.Helper()
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]map[string]any{}
	for _, m := range regexp.MustCompile("(?s)```json (\\w+)\n(.*?)```").FindAllSubmatch(doc, -1) {
		var v map[string]any
		if err := json.Unmarshal(m[2], &v); err != nil {
			t.Fatalf("docs/cli.md: the %s example is not JSON: %v", m[1], err)
		}
		shapes[string(m[1])] = v
	}
	return shapes
}

// sameKeys fails t unless got (a JSON object) has exactly the keys of
// the documented shape.
func sameKeys(t *testing.T, shapes map[string]map[string]any, shape string, got any) {
	t.Helper()
	want, ok := shapes[shape]
	if !ok {
		t.Fatalf("docs/cli.md has no %q example", shape)
	}
	obj, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("%s: got %T (%v), want an object", shape, got, got)
	}
	if g, w := slices.Sorted(maps.Keys(obj)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
		t.Errorf("%s keys:\n got %v\nwant %v (docs/cli.md)", shape, g, w)
	}
}

func decode(t *testing.T, what, out string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, out)
	}
	return v
}

// Every -o json answer has exactly the keys docs/cli.md documents, empty
// ones included; list answers an envelope with the next page.
func TestJSONOutputKeysAreStable(t *testing.T) {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer recv.Close()
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf(`
sources:
  small:
    kind: command
    command: ["echo", "hello"]
  boom:
    kind: command
    command: ["sh", "-c", "echo 'pg_dump: error: connection to server at 127.0.0.1, port 5432 failed: Connection refused' >&2; exit 3"]
  slow:
    kind: command
    command: ["sh", "-c", "exec sleep 120"]
webhooks:
  outbound:
    - url: %s
      secret: whsec_YmFja3VwZCBlbmRwb2ludHMgdGVzdA==
      events: [backup.failed]
`, recv.URL)})
	shapes := documentedShapes(t)
	obj := func(args ...string) any {
		t.Helper()
		out, _ := ctl(t, d, 0, append(args, "-o", "json")...)
		return decode(t, strings.Join(args, " "), out)
	}

	ok := obj("run", "small", "--wait")
	sameKeys(t, shapes, "backup", ok)
	id := fmt.Sprint(ok.(map[string]any)["id"])
	sameKeys(t, shapes, "backup", obj("status", id))
	sameKeys(t, shapes, "backup", obj("verify", id))
	// With --download too the backup is the answer; the rest is on stderr.
	sameKeys(t, shapes, "backup", obj("run", "small", "--download", t.TempDir()))

	out, errOut := ctl(t, d, 1, "run", "boom", "--wait", "-o", "json")
	failed := decode(t, "run boom", out).(map[string]any)
	sameKeys(t, shapes, "backup", failed)
	if failed["status"] != "failed" || !strings.Contains(errOut, "Connection refused") {
		t.Errorf("failed run: %v, stderr %q", failed, errOut)
	}

	queued := obj("run", "slow")
	sameKeys(t, shapes, "backup", queued)
	sameKeys(t, shapes, "backup", obj("cancel", fmt.Sprint(queued.(map[string]any)["id"])))
	d.WaitBackup(int64(queued.(map[string]any)["id"].(float64)))

	// Four backups: a page of one has a next page, the rest none.
	page := obj("list", "--limit", "1")
	sameKeys(t, shapes, "list", page)
	backups := page.(map[string]any)["backups"].([]any)
	if len(backups) != 1 {
		t.Fatalf("list --limit 1: %d backups", len(backups))
	}
	sameKeys(t, shapes, "backup", backups[0])
	next, isNum := page.(map[string]any)["next_before"].(float64)
	if !isNum || next <= 0 {
		t.Fatalf("list --limit 1: next_before = %v, want the next page's id", page.(map[string]any)["next_before"])
	}
	rest := obj("list", "--before", fmt.Sprint(int64(next)))
	if n := len(rest.(map[string]any)["backups"].([]any)); n != 3 || rest.(map[string]any)["next_before"] != nil {
		t.Errorf("list --before %v: %d backups, next_before %v; want 3 and null", next, n, rest.(map[string]any)["next_before"])
	}
	empty := obj("list", "--source", "nonesuch")
	if b, _ := empty.(map[string]any)["backups"].([]any); b == nil || len(b) != 0 {
		t.Errorf("an empty list: %v, want \"backups\": []", empty)
	}

	for _, s := range obj("sources").([]any) {
		sameKeys(t, shapes, "source", s)
		for _, k := range []string{"last", "last_success", "last_failure"} {
			if b := s.(map[string]any)[k]; b != nil {
				sameKeys(t, shapes, "backup", b)
			}
		}
		for _, p := range s.(map[string]any)["history"].([]any) {
			sameKeys(t, shapes, "history_point", p)
		}
	}
	// The table for people: boom's last failure, its age and its error.
	if table, _ := ctl(t, d, 0, "sources"); !regexp.MustCompile(`boom .* \d+s ago: command sh failed: exit`).MatchString(table) ||
		!strings.Contains(table, "LAST SUCCESS") || !strings.Contains(table, "OVERDUE") {
		t.Errorf("sources table without boom's last failure:\n%s", table)
	}
	eps := obj("endpoints").([]any)
	if len(eps) != 1 {
		t.Fatalf("endpoints: %v", eps)
	}
	sameKeys(t, shapes, "endpoint", eps[0])
	sameKeys(t, shapes, "health", obj("health"))

	res := obj("sync", t.TempDir())
	sameKeys(t, shapes, "sync", res)
	items := res.(map[string]any)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("sync items: %v", items)
	}
	sameKeys(t, shapes, "sync_item", items[0])
}

// list shows why a backup failed, on one line and cut short; status
// shows all of it.
func TestListErrorColumn(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: `
sources:
  boom:
    kind: command
    command: ["sh", "-c", "printf 'pg_dump: error: connection to server at \"db.internal\" (10.0.0.7), port 5432 failed:\\n\\tConnection refused\\n' >&2; exit 3"]
`})
	ctl(t, d, 1, "run", "boom", "--wait")
	out, _ := ctl(t, d, 0, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "ERROR") {
		t.Fatalf("list:\n%s", out)
	}
	if !strings.Contains(lines[1], "exit status 3; stderr: pg_dump: error") || !strings.HasSuffix(lines[1], "…") || strings.Contains(lines[1], "Connection refused") {
		t.Errorf("the error cell is not one line cut short with an ellipsis:\n%s", out)
	}
	if out, _ := ctl(t, d, 0, "status", "1"); !strings.Contains(out, "Connection refused") {
		t.Errorf("status does not show the whole error:\n%s", out)
	}
}
