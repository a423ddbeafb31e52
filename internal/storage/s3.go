package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/backupd/backupd/internal/domain"
)

// S3Config says where an S3-compatible store is and how to sign in.
type S3Config struct {
	Endpoint  string // host[:port], no scheme
	Bucket    string
	Prefix    string // prepended to every archive name, e.g. "backupd/"
	Region    string
	AccessKey string
	SecretKey string
	// Insecure talks plain HTTP (a MinIO on the same host, say).
	Insecure bool
}

// S3PartSize is the size of each part of an archive's multipart upload.
// One part is buffered at a time, so it is what an upload adds to the
// daemon's memory; S3 allows 10,000 parts, so an archive may reach 160 GB.
const S3PartSize = 16 << 20

// S3 stores archives as objects in a bucket. An archive is uploaded as it
// is written (multipart) and becomes an object, visible to anyone, only
// when the upload completes: an interrupted upload leaves no object that
// could be mistaken for an archive, only an incomplete upload, which
// RemovePartials aborts at the next start.
type S3 struct {
	c   *minio.Client
	cfg S3Config
}

// NewS3 connects to the store and checks that the bucket exists, so that a
// wrong endpoint, key or bucket stops the daemon at start, not at the first
// backup.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &S3{c: c, cfg: cfg}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Check reports whether the bucket answers and exists.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3 at %s: cannot check bucket %q: %w (check storage.s3.endpoint, access_key and secret_key)", s.cfg.Endpoint, s.cfg.Bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 at %s has no bucket %q: create it, or fix storage.s3.bucket", s.cfg.Endpoint, s.cfg.Bucket)
	}
	return nil
}

// Where names the store, for logs and messages.
func (s *S3) Where() string { return "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix }

func (s *S3) key(name string) string { return s.cfg.Prefix + name }

// Create starts uploading a new archive called name.
func (s *S3) Create(name string) (Upload, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	u := &s3Upload{pw: pw, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	go func() {
		_, err := s.c.PutObject(ctx, s.cfg.Bucket, s.key(name), pr, -1, minio.PutObjectOptions{
			ContentType: "application/zstd",
			PartSize:    S3PartSize,
			// The archive's SHA-256 is computed as it is written and
			// checked on every download and drill; hashing each part
			// again to sign it would cost as much once more.
			DisableContentSha256: true,
		})
		pr.CloseWithError(err) // unblocks a writer if the upload failed first
		u.done <- err
	}()
	return u, nil
}

// s3Upload is an archive being uploaded: writes go through a pipe to
// PutObject, which sends a part each time it has S3PartSize bytes.
type s3Upload struct {
	pw     *io.PipeWriter
	cancel context.CancelFunc
	done   chan error
}

func (u *s3Upload) Write(b []byte) (int, error) {
	n, err := u.pw.Write(b)
	if err != nil {
		return n, fmt.Errorf("upload archive: %w", err)
	}
	return n, nil
}

// Commit sends the last part and completes the upload: the archive exists
// once the store has acknowledged it.
func (u *s3Upload) Commit() error {
	u.pw.Close()
	err := <-u.done
	u.cancel()
	if err != nil {
		return fmt.Errorf("upload archive: %w", err)
	}
	return nil
}

// Abort stops the upload; minio-go aborts the multipart upload, so the
// store keeps nothing of it. A request stuck on an unresponsive store is
// given s3AbortWait, then canceled: the incomplete upload it may leave is
// aborted at the next start.
func (u *s3Upload) Abort() {
	u.pw.CloseWithError(errors.New("archive aborted"))
	select {
	case <-u.done:
	case <-time.After(s3AbortWait):
		u.cancel()
		<-u.done
	}
	u.cancel()
}

// s3AbortWait is how long Abort lets a part in flight finish.
const s3AbortWait = 30 * time.Second

// Open opens a complete archive for reading; it seeks by ranged GETs.
func (s *S3) Open(name string) (Object, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	o, err := s.c.GetObject(ctx, s.cfg.Bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open archive: %w", err)
	}
	info, err := o.Stat() // GetObject is lazy: this is where a missing key shows
	if err != nil {
		o.Close()
		cancel()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, domain.Errorf(domain.ENOTFOUND, "archive %s is not in %s (removed by retention or by hand?)", name, s.Where())
		}
		return nil, fmt.Errorf("open archive: %w", err)
	}
	return &s3Object{Object: o, cancel: cancel, mod: info.LastModified}, nil
}

type s3Object struct {
	*minio.Object
	cancel context.CancelFunc
	mod    time.Time
}

func (o *s3Object) ModTime() (time.Time, error) { return o.mod, nil }

func (o *s3Object) Close() error {
	err := o.Object.Close()
	o.cancel()
	return err
}

// Remove deletes a complete archive; a missing one is not an error (S3
// answers a delete of a missing key with success).
func (s *S3) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := s.c.RemoveObject(context.Background(), s.cfg.Bucket, s.key(name), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove archive: %w", err)
	}
	return nil
}

// RemovePartials aborts every incomplete upload under the prefix: at
// start none can be in progress (one daemon per bucket and prefix). It
// returns the archive names whose uploads it aborted.
func (s *S3) RemovePartials() ([]string, error) {
	ctx := context.Background()
	var removed []string
	// Listed without a prefix and filtered here: MinIO lists multipart
	// uploads by exact key only, not by a prefix as AWS does.
	for u := range s.c.ListIncompleteUploads(ctx, s.cfg.Bucket, "", true) {
		if u.Err != nil {
			return removed, fmt.Errorf("list incomplete uploads: %w", u.Err)
		}
		if !strings.HasPrefix(u.Key, s.cfg.Prefix) {
			continue
		}
		if err := s.c.RemoveIncompleteUpload(ctx, s.cfg.Bucket, u.Key); err != nil {
			return removed, fmt.Errorf("abort incomplete upload of %s: %w", u.Key, err)
		}
		removed = append(removed, strings.TrimPrefix(u.Key, s.cfg.Prefix))
	}
	return removed, nil
}
