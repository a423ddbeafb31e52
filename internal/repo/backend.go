package repo

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/backupd/backupd/internal/domain"
)

// Backend is where a repository's objects live. Names are relative paths
// with "/" separators ("config", "snapshots/<id>", "packs/ab/<id>").
type Backend interface {
	// Put stores r (size bytes, or -1 if unknown) under name atomically:
	// once Put returns nil the object is durable and complete, and a
	// failed or interrupted Put leaves no object under name.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Get reads length bytes from off (length < 0: to the end). A missing
	// object is domain.ENOTFOUND.
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Stat describes one object; a missing one is domain.ENOTFOUND.
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	// List calls fn for every object whose name starts with prefix.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Remove deletes an object; a missing one is not an error.
	Remove(ctx context.Context, name string) error
	// Where names the backend in logs and messages.
	Where() string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// checkObjectName refuses names that could leave the repository.
func checkObjectName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return domain.Errorf(domain.EINVALID, "bad object name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || strings.HasPrefix(part, ".") {
			return domain.Errorf(domain.EINVALID, "bad object name %q", name)
		}
	}
	return nil
}

// readAll reads a whole object.
func readAll(ctx context.Context, b Backend, name string) ([]byte, error) {
	rc, err := b.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
