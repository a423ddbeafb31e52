// Package miniotest runs a real MinIO server for tests of S3 storage: each
// test gets its own server on a free loopback port, with its data in the
// test's temp dir, and one bucket. Without the minio binary the test is
// skipped (failed under CI=true); .ci/run installs it.
package miniotest

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/backupd/backupd/internal/testenv"
)

// Server is a running MinIO with one empty bucket.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string
	Bucket    string
	Client    *minio.Client
	cmd       *exec.Cmd
}

// Kill stops the server at once, as a crash or a lost network would.
func (s Server) Kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// binary returns the minio binary: in PATH, or where `go install` puts it.
func binary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "minio")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("minio is neither in PATH nor at %s (go install github.com/minio/minio@latest)", p)
	}
	return p, nil
}

// Start runs a MinIO server until the test ends and creates the bucket.
func Start(t testing.TB) Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		testenv.Missing(t, "the MinIO server (minio)", err)
	}
	s := Server{Endpoint: testenv.FreeAddr(t), AccessKey: "backupdtest", SecretKey: "backupdtest-secret-key", Bucket: "archives"}
	cmd := exec.Command(bin, "server", "--quiet", "--address", s.Endpoint, "--console-address", testenv.FreeAddr(t), t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off")
	log, err := os.Create(filepath.Join(t.TempDir(), "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	s.cmd = cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("minio did not become ready in 60 s: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Client, err = minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client.MakeBucket(context.Background(), s.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	return s
}

// Config is the storage section of a backupd config for this server.
func (s Server) Config(prefix string) string {
	return fmt.Sprintf("storage:\n  s3:\n    endpoint: %s\n    bucket: %s\n    prefix: %q\n    access_key: %s\n    secret_key: %s\n    insecure: true\n",
		s.Endpoint, s.Bucket, prefix, s.AccessKey, s.SecretKey)
}

// Keys lists the object keys in the bucket.
func (s Server) Keys(t testing.TB) []string {
	t.Helper()
	var keys []string
	for o := range s.Client.ListObjects(context.Background(), s.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// Incomplete lists the keys of the bucket's incomplete multipart uploads.
func (s Server) Incomplete(t testing.TB) []string {
	t.Helper()
	var keys []string
	for u := range s.Client.ListIncompleteUploads(context.Background(), s.Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys
}

// LeaveIncomplete starts a multipart upload of key and uploads one part
// without completing it: what a daemon killed mid-upload leaves.
func (s Server) LeaveIncomplete(t testing.TB, key string) {
	t.Helper()
	core := minio.Core{Client: s.Client}
	ctx := context.Background()
	id, err := core.NewMultipartUpload(ctx, s.Bucket, key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 5<<20)
	if _, err := core.PutObjectPart(ctx, s.Bucket, key, id, 1, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
}
