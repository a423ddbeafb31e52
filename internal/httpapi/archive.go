package httpapi

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/storage"
)

// handleArchiveDownload streams a succeeded backup's archive. Range and
// If-Range (resume) and ETag come from http.ServeContent; the SHA-256 of
// the whole archive is in Repr-Digest on every response and in
// Content-Digest on full (200) responses, where content and representation
// are the same bytes (RFC 9530).
func (s *Server) handleArchiveDownload(w http.ResponseWriter, r *http.Request) {
	b, err := s.archivedFromPath(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	f, err := s.Archives.Open(b.Archive)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	defer f.Close()
	mod, err := f.ModTime()
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	sum, err := hex.DecodeString(b.SHA256)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
	h := w.Header()
	ctype := "application/zstd"
	if strings.HasSuffix(b.Archive, archive.EncryptedSuffix) {
		ctype = "application/octet-stream" // age ciphertext
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": b.Archive}))
	h.Set("ETag", `"`+b.SHA256+`"`)
	h.Set("Repr-Digest", digest)
	h.Set("X-Backupd-SHA256", b.SHA256)
	var content io.ReadSeeker = f
	if lf, ok := f.(storage.LocalFile); ok {
		content = lf.File // sent with sendfile(2)
	}
	http.ServeContent(&digestWriter{ResponseWriter: w, digest: digest}, r, b.Archive, mod, content)
}

// archivedFromPath loads the backup named by {id} if it has an archive
// here to download.
func (s *Server) archivedFromPath(r *http.Request) (domain.Backup, error) {
	b, err := s.backupFromPath(r)
	if err != nil {
		return b, err
	}
	return b, downloadable(b)
}

// downloadable says why b has no archive to download, if it has none.
func downloadable(b domain.Backup) error {
	switch {
	case b.Origin == domain.OriginWebhook:
		return domain.Errorf(domain.ENOTFOUND, "backup %d was reported by webhook; its archive is not stored here (location: %q)", b.ID, b.Archive)
	case b.Status != domain.StatusSucceeded:
		return domain.Errorf(domain.ENOTREADY, "backup %d is %s; only a succeeded backup has an archive", b.ID, b.Status)
	case b.Archive == "":
		return domain.Errorf(domain.ENOTFOUND, "the archive of backup %d was removed by the retention (keep) of source %s; only its record remains", b.ID, b.Source)
	}
	return nil
}

// digestWriter adds Content-Digest when the response turns out to carry
// the whole archive.
type digestWriter struct {
	http.ResponseWriter
	digest string
}

func (d *digestWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		d.Header().Set("Content-Digest", d.digest)
	}
	d.ResponseWriter.WriteHeader(code)
}

// ReadFrom hands the copy to the connection, which sends an *os.File with
// sendfile(2): without it, io.Copy would read the archive into a buffer
// and write it out again. ServeContent has written the header by then.
func (d *digestWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := d.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(d.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (d *digestWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
