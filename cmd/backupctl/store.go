package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/backupd/backupd/internal/archive"
	"github.com/backupd/backupd/internal/repo"
	"github.com/backupd/backupd/internal/storage"
)

// storeFlags are --repo and --identity: read a repository straight from
// its store, with no daemon and no catalog (disaster recovery).
type storeFlags struct {
	repo, identity string
}

func (f *storeFlags) add(fl *pflag.FlagSet, what string) {
	fl.StringVar(&f.repo, "repo", "", what+" the repository itself, with no daemon: a directory (<archive_dir>/repo, or the archive dir holding it) or s3://bucket/prefix (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	fl.StringVar(&f.identity, "identity", "", "age identity file, for an encrypted archive or repository")
}

// identities reads --identity, if given.
func (f *storeFlags) identities() ([]age.Identity, error) {
	if f.identity == "" {
		return nil, nil
	}
	ids, err := archive.ReadIdentities(f.identity)
	if err != nil {
		return nil, usageErrorf("--identity: %v", err)
	}
	return ids, nil
}

// open opens the repository --repo names, reading its parameters from
// the store's config (with the identity when it is encrypted).
func (f *storeFlags) open(ctx context.Context) (*repo.Repo, error) {
	ids, err := f.identities()
	if err != nil {
		return nil, err
	}
	be, err := backendAt(ctx, f.repo)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		if enc, err := encryptedConfig(ctx, be); err != nil {
			return nil, err
		} else if enc {
			return nil, usageErrorf("the repository at %s is encrypted with age: pass --identity FILE with the private key of one of its recipients", be.Where())
		}
	}
	return repo.Open(ctx, be, repo.Options{Identities: ids})
}

// encryptedConfig reports whether the repository's config is age
// ciphertext.
func encryptedConfig(ctx context.Context, be repo.Backend) (bool, error) {
	rc, err := be.Get(ctx, "config", 0, 64)
	if err != nil {
		return false, fmt.Errorf("read the repository config at %s: %w", be.Where(), err)
	}
	defer rc.Close()
	head, err := io.ReadAll(rc)
	if err != nil {
		return false, fmt.Errorf("read the repository config at %s: %w", be.Where(), err)
	}
	return bytes.HasPrefix(head, []byte("age-encryption.org/v1\n")), nil
}

// backendAt is the store at loc: s3://bucket/prefix, or a directory.
func backendAt(ctx context.Context, loc string) (repo.Backend, error) {
	if strings.HasPrefix(loc, "s3://") {
		return s3Backend(ctx, loc)
	}
	return localBackend(loc)
}

// localBackend accepts the repository directory, the archive directory
// that holds it as repo/, or a data_dir with the default archive dir. It
// never creates a directory.
func localBackend(dir string) (repo.Backend, error) {
	for _, d := range []string{dir, filepath.Join(dir, "repo"), filepath.Join(dir, "archives", "repo")} {
		if _, err := os.Stat(filepath.Join(d, "config")); err == nil {
			return repo.NewLocal(d)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--repo %s: %w", dir, err)
		}
	}
	return nil, usageErrorf("--repo %s holds no repository: neither %s nor %s exists (give <archive_dir>/repo of the daemon)",
		dir, filepath.Join(dir, "config"), filepath.Join(dir, "repo", "config"))
}

// s3Backend opens the repository in s3://bucket/prefix, where prefix is
// the daemon's storage.s3.prefix (the repository is below it, in repo/)
// or that prefix with repo/ already added.
func s3Backend(ctx context.Context, loc string) (repo.Backend, error) {
	cfg, err := s3FromEnv(loc)
	if err != nil {
		return nil, err
	}
	prefix := cfg.Prefix
	tries := []string{prefix}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		tries = append(tries, prefix+"/")
	}
	if p := strings.TrimSuffix(prefix, "/"); p == "repo" || strings.HasSuffix(p, "/repo") {
		tries = append(tries, strings.TrimSuffix(p, "repo"))
	}
	var first repo.Backend
	for _, p := range tries {
		cfg.Prefix = p
		be, err := repo.NewS3(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("--repo %s: %w (check AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", loc, err)
		}
		if ok, err := repo.Exists(ctx, be); err != nil {
			return nil, err
		} else if ok {
			return be, nil
		}
		if first == nil {
			first = be
		}
	}
	return nil, usageErrorf("--repo %s holds no repository: there is no %sconfig in bucket %s (give the daemon's storage.s3.prefix)", loc, strings.TrimPrefix(first.Where(), "s3://"+cfg.Bucket+"/"), cfg.Bucket)
}

// s3FromEnv reads the bucket and prefix from loc and the rest from the
// environment, as the AWS tools do.
func s3FromEnv(loc string) (storage.S3Config, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return storage.S3Config{}, usageErrorf("--repo %q: an S3 location looks like s3://bucket/prefix", loc)
	}
	cfg := storage.S3Config{Bucket: u.Host, Prefix: strings.TrimPrefix(u.Path, "/"),
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Region: firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"), Endpoint: "s3.amazonaws.com"}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return cfg, usageErrorf("--repo %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the bucket's keys", loc)
	}
	if ep := firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || (e.Path != "" && e.Path != "/") {
			return cfg, usageErrorf("AWS_ENDPOINT_URL %q must look like https://host[:port] (or http:// for plain HTTP)", ep)
		}
		cfg.Endpoint, cfg.Insecure = e.Host, e.Scheme == "http"
	}
	return cfg, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
