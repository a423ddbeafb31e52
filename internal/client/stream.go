package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/backupd/backupd/internal/domain"
)

// ArchiveStream is a backup's archive (or export) read as it arrives,
// with no file written. Read returns io.EOF only once every byte has
// been read and has the SHA-256 of the response's Repr-Digest (else the
// catalog's); otherwise its last Read fails with a *ChecksumError.
// What was read before then is unverified.
type ArchiveStream struct {
	Backup domain.Backup
	// Size is the length the server announced, -1 if it did not.
	Size int64

	c    *Client
	body io.ReadCloser
	h    hash.Hash
	want string
	err  error
}

// OpenArchive starts the download of backup id's archive as a stream.
// The caller closes it.
func (c *Client) OpenArchive(ctx context.Context, id int64) (*ArchiveStream, error) {
	b, err := c.Backup(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := downloadable(b); err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/api/v1/backups/"+strconv.FormatInt(id, 10)+"/archive", nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, nil)
	if err != nil {
		return nil, err
	}
	s := &ArchiveStream{Backup: b, Size: resp.ContentLength, c: c, body: resp.Body, h: sha256.New(), want: b.SHA256}
	if d := reprDigest(resp.Header.Get("Repr-Digest")); d != "" {
		s.want = d
	}
	if s.want == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("the server sent no SHA-256 for the archive of backup %d: nothing to check it against", id)
	}
	return s, nil
}

// Read implements io.Reader.
func (s *ArchiveStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.body.Read(p)
	s.h.Write(p[:n])
	switch {
	case errors.Is(err, io.EOF):
		if got := hex.EncodeToString(s.h.Sum(nil)); got != s.want {
			err = &ChecksumError{Got: got, Want: s.want}
		}
	case err != nil:
		err = s.c.unreachable(fmt.Errorf("download cut off: %w", err))
	}
	s.err = err
	return n, err
}

// Close ends the download.
func (s *ArchiveStream) Close() error { return s.body.Close() }
