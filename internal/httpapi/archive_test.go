package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/storage"
)

// sendfileRecorder records what the connection's ReadFrom was given.
type sendfileRecorder struct {
	*httptest.ResponseRecorder
	src io.Reader
}

func (s *sendfileRecorder) ReadFrom(r io.Reader) (int64, error) {
	s.src = r
	return io.Copy(s.ResponseRecorder, r)
}

// A local archive reaches the connection as its *os.File, which net/http
// sends with sendfile(2): through storage.LocalFile and the digestWriter,
// with Content-Digest still set on the full response.
func TestArchiveReachesConnectionAsFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.tar.zst"), []byte("archive bytes"), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, err := l.Open("a.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	lf, ok := o.(storage.LocalFile)
	if !ok {
		t.Fatalf("Local.Open returned %T, which the download handler does not unwrap", o)
	}
	rec := &sendfileRecorder{ResponseRecorder: httptest.NewRecorder()}
	http.ServeContent(&digestWriter{ResponseWriter: rec, digest: "sha-256=:x:"}, httptest.NewRequest("GET", "/", nil), "a.tar.zst", time.Now(), lf.File)
	lr, ok := rec.src.(*io.LimitedReader)
	if !ok {
		t.Fatalf("the connection's ReadFrom got %T, want the *io.LimitedReader over the file that ServeContent passes", rec.src)
	}
	if _, ok := lr.R.(*os.File); !ok {
		t.Fatalf("the connection's ReadFrom got a reader over %T, want *os.File", lr.R)
	}
	if rec.Body.String() != "archive bytes" || rec.Header().Get("Content-Digest") != "sha-256=:x:" {
		t.Fatalf("body %q, Content-Digest %q", rec.Body, rec.Header().Get("Content-Digest"))
	}
}
