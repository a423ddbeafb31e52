package repo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/storage"
)

// S3 is a Backend in an S3-compatible bucket, under cfg.Prefix + "repo/".
// An object exists once PutObject (multipart for large or unknown sizes)
// completes, so an interrupted Put leaves at most an incomplete upload,
// which storage.S3.RemovePartials aborts at start.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
	where  string
}

// NewS3 connects with the daemon's storage settings and checks the bucket.
func NewS3(ctx context.Context, cfg storage.S3Config) (*S3, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &S3{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix + "repo/"}
	s.where = "s3://" + cfg.Bucket + "/" + s.prefix
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := c.BucketExists(cctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 at %s: cannot check bucket %q: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3 at %s has no bucket %q", cfg.Endpoint, cfg.Bucket)
	}
	return s, nil
}

// Where names the backend.
func (s *S3) Where() string { return s.where }

func (s *S3) key(name string) (string, error) {
	if err := checkObjectName(name); err != nil {
		return "", err
	}
	return s.prefix + name, nil
}

// Put uploads the object; it is visible only once complete.
func (s *S3) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	_, err = s.c.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    storage.S3PartSize,
		// Every blob carries its own check (AEAD tag or keyed hash).
		DisableContentSha256: true,
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	return nil
}

// Get reads a range with one ranged GET.
func (s *S3) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	opts := minio.GetObjectOptions{}
	switch {
	case length == 0:
		return io.NopCloser(&io.LimitedReader{}), nil
	case length > 0:
		err = opts.SetRange(off, off+length-1)
	case off > 0:
		err = opts.SetRange(off, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	o, err := s.c.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	if _, err := o.Stat(); err != nil { // GetObject is lazy: a missing key shows here
		o.Close()
		return nil, s.fail("get", name, err)
	}
	return o, nil
}

func (s *S3) fail(op, name string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return domain.Errorf(domain.ENOTFOUND, "%s is not in the repository at %s", name, s.where)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// Stat describes one object.
func (s *S3) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	key, err := s.key(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	info, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.fail("stat", name, err)
	}
	return ObjectInfo{Name: name, Size: info.Size, ModTime: info.LastModified}, nil
}

// List lists the objects under prefix.
func (s *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine if fn fails
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list %s in %s: %w", prefix, s.where, o.Err)
		}
		if err := fn(ObjectInfo{Name: o.Key[len(s.prefix):], Size: o.Size, ModTime: o.LastModified}); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes an object.
func (s *S3) Remove(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
