package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/miniotest"
	"github.com/backupd/backupd/internal/storage"
)

func newS3(t *testing.T, srv miniotest.Server, prefix string) *storage.S3 {
	t.Helper()
	s, err := storage.NewS3(context.Background(), storage.S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket,
		Prefix: prefix, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An archive of several parts round-trips through a real MinIO, reads
// back from any offset, and exists only once committed; an aborted one
// leaves neither an object nor an incomplete upload; Remove deletes.
func TestS3Archives(t *testing.T) {
	srv := miniotest.Start(t)
	s := newS3(t, srv, "host1/")
	data := make([]byte, 2*storage.S3PartSize+12345) // three parts
	rand.NewChaCha8([32]byte{7}).Read(data)

	up, err := s.Create("a.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := up.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			t.Fatal(err)
		}
		if off == storage.S3PartSize+(1<<20) && len(srv.Keys(t)) != 0 {
			t.Fatalf("an object exists before the upload is committed: %v", srv.Keys(t))
		}
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Keys(t); !slices.Equal(keys, []string{"host1/a.tar.zst"}) {
		t.Fatalf("bucket holds %v, want [host1/a.tar.zst]", keys)
	}

	o, err := s.Open("a.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	const off = storage.S3PartSize - 100 // a range across a part boundary
	if _, err := o.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail := make([]byte, 1000)
	if _, err := io.ReadFull(o, tail); err != nil || !bytes.Equal(tail, data[off:off+1000]) {
		t.Fatalf("read after seek: %v", err)
	}
	if mod, err := o.ModTime(); err != nil || mod.IsZero() {
		t.Fatalf("ModTime = %v, %v", mod, err)
	}
	o.Close()

	// Aborted after a part went up: nothing is left of it.
	up, err = s.Create("b.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(data[:storage.S3PartSize+1]); err != nil {
		t.Fatal(err)
	}
	up.Abort()
	if _, err := s.Open("b.tar.zst"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("open an aborted archive: %v, want not found", err)
	}
	if inc := srv.Incomplete(t); len(inc) != 0 {
		t.Fatalf("incomplete uploads left after Abort: %v", inc)
	}

	if err := s.Remove("a.tar.zst"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("a.tar.zst"); domain.ErrorCode(err) != domain.ENOTFOUND || !strings.Contains(err.Error(), "not in s3://archives/host1/") {
		t.Fatalf("open a removed archive: %v", err)
	}
	if err := s.Remove("a.tar.zst"); err != nil {
		t.Fatalf("removing a missing archive: %v", err)
	}
	if _, err := s.Create("../x"); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("a name with a path: %v", err)
	}
}

// RemovePartials aborts the incomplete uploads under the store's prefix
// (what a crash leaves) and no other.
func TestS3RemovePartials(t *testing.T) {
	srv := miniotest.Start(t)
	srv.LeaveIncomplete(t, "host1/c.tar.zst")
	srv.LeaveIncomplete(t, "host2/d.tar.zst")
	removed, err := newS3(t, srv, "host1/").RemovePartials()
	if err != nil || !slices.Equal(removed, []string{"c.tar.zst"}) {
		t.Fatalf("RemovePartials = %v, %v; want [c.tar.zst]", removed, err)
	}
	if inc := srv.Incomplete(t); !slices.Equal(inc, []string{"host2/d.tar.zst"}) {
		t.Fatalf("incomplete uploads left: %v, want only the other prefix's", inc)
	}
}

// A wrong bucket or key stops NewS3 with what to fix.
func TestS3StartChecks(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	_, err := storage.NewS3(ctx, storage.S3Config{Endpoint: srv.Endpoint, Bucket: "nope", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true})
	if err == nil || !strings.Contains(err.Error(), `has no bucket "nope"`) {
		t.Fatalf("missing bucket: %v", err)
	}
	_, err = storage.NewS3(ctx, storage.S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket, AccessKey: srv.AccessKey, SecretKey: "wrong-secret", Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "check storage.s3.endpoint, access_key and secret_key") {
		t.Fatalf("wrong secret: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("a wrong secret should be refused, not time out")
	}
}

// A store that goes away mid-upload fails the archive with the store's
// error instead of hanging or reporting success.
func TestS3StoreGoesAway(t *testing.T) {
	srv := miniotest.Start(t)
	s := newS3(t, srv, "")
	up, err := s.Create("c.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, storage.S3PartSize)
	if _, err := up.Write(part); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("check while the store runs: %v", err)
	}
	srv.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "cannot check bucket") {
		t.Fatalf("check after the store died: %v", err)
	} else {
		t.Logf("check after the store died: %v", err)
	}
	start := time.Now()
	var werr error
	for i := 0; i < 4 && werr == nil; i++ {
		_, werr = up.Write(part)
	}
	cerr := up.Commit()
	if cerr == nil || !strings.Contains(cerr.Error(), "upload archive") {
		t.Fatalf("commit after the store died: write %v, commit %v; want an upload error", werr, cerr)
	}
	t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), cerr)
}
