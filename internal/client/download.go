package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/storage"
)

// PartialSuffix marks a download in progress; a later Download resumes it.
const PartialSuffix = ".partial"

// ChecksumError means the downloaded bytes do not have the catalog's
// SHA-256. The file (Path, "" for a stream) has been deleted.
type ChecksumError struct {
	Path      string
	Got, Want string
}

func (e *ChecksumError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("archive did not verify: SHA-256 is %s, the catalog says %s", e.Got, e.Want)
	}
	return fmt.Sprintf("archive did not verify: SHA-256 is %s, the catalog says %s; %s was deleted, run the download again", e.Got, e.Want, e.Path)
}

// DownloadOptions tune Download.
type DownloadOptions struct {
	// Progress, if set, is called as bytes arrive with the bytes present
	// (including a resumed prefix) and the total.
	Progress func(done, total int64)
}

// DownloadResult says what Download did.
type DownloadResult struct {
	Path    string
	Size    int64
	SHA256  string
	Resumed int64 // bytes kept from an earlier partial download
	Reused  bool  // an already complete, verified file was found
}

// Download fetches backup id's archive to dest (a file, or a directory to
// put it in under its archive name). It resumes dest+".partial" if one is
// there, verifies the SHA-256 against the catalog, and only then gives the
// file its final name; on a mismatch it deletes the file and returns a
// *ChecksumError.
func (c *Client) Download(ctx context.Context, id int64, dest string, opt DownloadOptions) (DownloadResult, error) {
	b, err := c.Backup(ctx, id)
	if err != nil {
		return DownloadResult{}, err
	}
	if err := downloadable(b); err != nil {
		return DownloadResult{}, err
	}
	// A path ending in a slash names a directory, created if need be, as
	// does an existing directory; anything else is the file to write.
	if st, err := os.Stat(dest); (err == nil && st.IsDir()) || strings.HasSuffix(dest, string(filepath.Separator)) {
		if err := os.MkdirAll(dest, 0o750); err != nil {
			return DownloadResult{}, fmt.Errorf("create the download directory: %w", err)
		}
		dest = filepath.Join(dest, filepath.Base(b.Archive))
	} else if dir := filepath.Dir(dest); !isDir(dir) {
		return DownloadResult{}, fmt.Errorf("cannot save the archive as %s: directory %s does not exist (end the path with / to have it created)", dest, dir)
	}
	res := DownloadResult{Path: dest, Size: b.DownloadSize(), SHA256: b.SHA256}
	if ok, _ := fileHasSum(dest, b.SHA256); ok && b.SHA256 != "" {
		res.Reused = true
		return res, nil
	}
	partial := dest + PartialSuffix
	f, h, have, err := openPartial(partial)
	if err != nil {
		return res, err
	}
	defer f.Close()
	res.Resumed = have
	want, size, err := c.fetch(ctx, id, b, f, h, have, opt.Progress)
	if err != nil {
		return res, err // the partial file stays for the next try
	}
	res.SHA256, res.Size = want, size
	if err := f.Sync(); err != nil {
		return res, fmt.Errorf("fsync download: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want || want == "" {
		f.Close()
		os.Remove(partial)
		return res, &ChecksumError{Path: partial, Got: got, Want: want}
	}
	if err := os.Rename(partial, dest); err != nil {
		return res, fmt.Errorf("rename download: %w", err)
	}
	return res, nil
}

// downloadable says why b has nothing to download, if it has not.
func downloadable(b domain.Backup) error {
	switch {
	case b.Origin != domain.OriginLocal:
		return fmt.Errorf("backup %d was reported by webhook: its archive is kept by the sender, not here (location: %q)", b.ID, b.Archive)
	case b.Status != domain.StatusSucceeded:
		return fmt.Errorf("backup %d is %s: only a succeeded backup has an archive to download", b.ID, b.Status)
	case b.Archive == "":
		return fmt.Errorf("the archive of backup %d was removed by the retention (keep rules) of source %s; only its record remains", b.ID, b.Source)
	}
	return nil
}

// openPartial opens (or creates) the partial file for appending and hashes
// what it already holds, so the final check covers the whole file.
func openPartial(path string) (*os.File, hash.Hash, int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("open download file: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("read partial download: %w", err)
	}
	return f, h, n, nil
}

// fetch asks for the bytes after have; if the server sends the whole file
// instead (the archive changed, or it ignores ranges), it starts over. It
// returns the SHA-256 to check the file against and its size: those of
// the response's Repr-Digest when the server sends one (a repository
// backup's export may have no digest in the catalog until the first
// download has built it), else the catalog's.
func (c *Client) fetch(ctx context.Context, id int64, b domain.Backup, f *os.File, h hash.Hash, have int64, progress func(done, total int64)) (string, int64, error) {
	size := b.DownloadSize()
	if have == size && size > 0 && b.SHA256 != "" {
		return b.SHA256, size, nil // complete already; the caller verifies it
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/api/v1/backups/"+strconv.FormatInt(id, 10)+"/archive", nil, nil)
	if err != nil {
		return "", 0, err
	}
	// A partial file longer than the archive cannot be a prefix of it: ask
	// for the whole file, which restarts the download below. Without a
	// digest yet there is nothing to resume against.
	if have > 0 && have < size && b.SHA256 != "" {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		req.Header.Set("If-Range", `"`+b.SHA256+`"`)
	}
	resp, err := c.do(req, nil)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	want := b.SHA256
	if d := reprDigest(resp.Header.Get("Repr-Digest")); d != "" {
		want = d
	}
	if resp.StatusCode != http.StatusPartialContent {
		if err := restart(f, h); err != nil {
			return "", 0, err
		}
		have = 0
	}
	if resp.ContentLength >= 0 {
		size = have + resp.ContentLength
	}
	// Written behind the disk, as the daemon writes archives: the fsync
	// that follows finds little left to write, and a large download does
	// not push what the machine reads out of the page cache.
	bw := storage.NewBehindWriter(f, have)
	w := io.Writer(bw)
	if progress != nil {
		w = &progressWriter{w: bw, done: have, total: size, fn: progress}
	}
	if _, err := io.CopyBuffer(io.MultiWriter(w, h), resp.Body, make([]byte, 1<<20)); err != nil {
		bw.Flush() // keep what arrived for the resume
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		return "", 0, c.unreachable(fmt.Errorf("download cut off: %w (run it again to resume)", err))
	}
	if err := bw.Flush(); err != nil {
		return "", 0, fmt.Errorf("write download: %w", err)
	}
	return want, size, nil
}

// reprDigest returns the SHA-256 in a Repr-Digest header
// ("sha-256=:<base64>:") as lowercase hex, or "" if there is none.
func reprDigest(v string) string {
	for _, item := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || !strings.EqualFold(k, "sha-256") || len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err == nil && len(sum) == sha256.Size {
			return hex.EncodeToString(sum)
		}
	}
	return ""
}

func restart(f *os.File, h hash.Hash) error {
	h.Reset()
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate download: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek download: %w", err)
	}
	return nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// fileHasSum reports whether the file at path exists with the given SHA-256.
func fileHasSum(path, want string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}
