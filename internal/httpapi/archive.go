package httpapi

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

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
	if b.Snapshot != "" {
		s.serveExport(w, r, b)
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
	var content io.ReadSeeker = f
	if lf, ok := f.(storage.LocalFile); ok {
		content = lf.File // sent with sendfile(2)
	}
	s.serveDownload(w, r, b.Archive, b.SHA256, mod, content)
}

// serveExport sends a repository backup as its export, which the first
// download builds (and whose digest it records) before answering.
func (s *Server) serveExport(w http.ResponseWriter, r *http.Request, b domain.Backup) {
	if s.Repository == nil {
		WriteError(w, r, s.log, domain.Errorf(domain.EUNAVAILABLE, "backup %d is in the repository, which this server has not opened", b.ID))
		return
	}
	ex, err := s.Repository.Export(r.Context(), b)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	defer ex.File.Close()
	s.serveDownload(w, r, b.Archive, ex.SHA256, ex.ModTime, ex.File)
}

// serveDownload sends the file called name whose SHA-256 is sha.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request, name, sha string, mod time.Time, content io.ReadSeeker) {
	sum, err := hex.DecodeString(sha)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
	h := w.Header()
	ctype := "application/zstd"
	if strings.HasSuffix(name, archive.EncryptedSuffix) {
		ctype = "application/octet-stream" // age ciphertext
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("ETag", `"`+sha+`"`)
	h.Set("Repr-Digest", digest)
	h.Set("X-Backupd-SHA256", sha)
	http.ServeContent(&digestWriter{ResponseWriter: w, digest: digest}, r, name, mod, content)
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
