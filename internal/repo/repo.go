package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/backupd/backupd/internal/domain"
)

// DefaultPackSize is the size at which a pack is closed and stored: big
// enough that an object store's per-request cost is small against the
// transfer, small enough that a backup holds little in memory (one pack
// being filled and one being uploaded).
const DefaultPackSize = 16 << 20

// Options open a repository.
type Options struct {
	// Params are those Init returned. Nil: read them from the store's
	// config, which needs Identities when the repository is encrypted.
	Params *Params
	// Recipients encrypt what a backup writes; required to write to an
	// encrypted repository.
	Recipients []age.Recipient
	// Identities decrypt, for reading an encrypted repository.
	Identities []age.Identity
	// Index is what backups deduplicate against and prune reasons with;
	// nil is a new MemIndex.
	Index Index
	// Compression is the daemon's compression setting: fastest, default,
	// better or best, mapped to zstd levels as for archives.
	Compression string
	// PackSize is the target pack size; 0 is DefaultPackSize.
	PackSize int
	// CacheDir, when set, keeps per source a copy of its newest files
	// tree, so that the next backup does not read unchanged files.
	CacheDir string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Repo is an open repository.
type Repo struct {
	be         Backend
	p          Params
	idx        Index
	recipients []age.Recipient
	ids        []age.Identity
	hash       *hasher
	enc        *zstd.Encoder
	dec        *zstd.Decoder
	packSize   int
	cacheDir   string
	now        func() time.Time

	mu    sync.Mutex
	packs *packSet // what the store's pack headers say, loaded on first read
}

const configName = "config"

// Init creates a repository in be, encrypted to recipients if any, and
// returns its parameters for the caller to keep. It refuses a backend
// that already holds one.
func Init(ctx context.Context, be Backend, recipients []age.Recipient) (Params, error) {
	p := NewParams(len(recipients) > 0)
	return p, InitParams(ctx, be, recipients, p)
}

// NewParams draws the parameters of a new repository, for a caller that
// keeps them before creating the repository with InitParams: a crash in
// between then leaves parameters without a repository, which InitParams
// completes, rather than a repository whose keys were lost.
func NewParams(encrypted bool) Params { return newParams(encrypted) }

// InitParams creates a repository with parameters p in be. It refuses a
// backend that already holds one.
func InitParams(ctx context.Context, be Backend, recipients []age.Recipient, p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Encrypted != (len(recipients) > 0) {
		return domain.Errorf(domain.EINVALID, "init repository: encrypted is %v but %d recipients were given", p.Encrypted, len(recipients))
	}
	if _, err := be.Stat(ctx, configName); err == nil {
		return domain.Errorf(domain.ECONFLICT, "%s already holds a repository", be.Where())
	} else if domain.ErrorCode(err) != domain.ENOTFOUND {
		return fmt.Errorf("init repository: %w", err)
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	data, err := sealObject(recipients, plain)
	if err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	if err := be.Put(ctx, configName, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	return nil
}

// Exists reports whether be holds a repository (its config object).
func Exists(ctx context.Context, be Backend) (bool, error) {
	_, err := be.Stat(ctx, configName)
	switch domain.ErrorCode(err) {
	case "":
		return true, nil
	case domain.ENOTFOUND:
		return false, nil
	}
	return false, fmt.Errorf("look for a repository at %s: %w", be.Where(), err)
}

// Open opens the repository in be.
func Open(ctx context.Context, be Backend, opt Options) (*Repo, error) {
	r := &Repo{be: be, idx: opt.Index, recipients: opt.Recipients, ids: opt.Identities,
		packSize: opt.PackSize, cacheDir: opt.CacheDir, now: opt.Now}
	if err := r.loadParams(ctx, opt.Params); err != nil {
		return nil, err
	}
	if r.idx == nil {
		r.idx = NewMemIndex()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.packSize <= 0 {
		r.packSize = DefaultPackSize
	}
	r.packSize = min(r.packSize, maxPackSize/2)
	var err error
	if r.hash, err = newHasher(r.p.IDKey); err != nil {
		return nil, err
	}
	level, err := zstdLevel(opt.Compression)
	if err != nil {
		return nil, err
	}
	// EncodeAll and DecodeAll are safe for concurrent use; one encoder
	// and decoder serve every goroutine. EncodeAll takes one of the
	// encoder's concurrency states for each call and waits for one to be
	// free, so the encoder needs as many as a backup has workers: with one,
	// the workers compressed one chunk at a time between them.
	if r.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(backupWorkers())); err != nil {
		return nil, fmt.Errorf("start zstd: %w", err)
	}
	if r.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(2*maxPackSize)); err != nil {
		return nil, fmt.Errorf("start zstd: %w", err)
	}
	return r, nil
}

func (r *Repo) loadParams(ctx context.Context, p *Params) error {
	if p != nil {
		if _, err := r.be.Stat(ctx, configName); err != nil {
			return fmt.Errorf("open repository at %s: %w", r.be.Where(), err)
		}
		r.p = *p
		return r.p.Validate()
	}
	data, err := readAll(ctx, r.be, configName)
	if err != nil {
		return fmt.Errorf("open repository at %s: %w", r.be.Where(), err)
	}
	plain, err := openObject(r.ids, data, len(r.ids) > 0)
	if err != nil {
		return fmt.Errorf("repository config: %w", err)
	}
	if err := json.Unmarshal(plain, &r.p); err != nil {
		return fmt.Errorf("decode repository config: %w", err)
	}
	return r.p.Validate()
}

func zstdLevel(name string) (zstd.EncoderLevel, error) {
	switch name {
	case "fastest", "", "default":
		return zstd.SpeedFastest, nil
	case "better":
		return zstd.SpeedDefault, nil
	case "best":
		return zstd.SpeedBetterCompression, nil
	}
	return 0, domain.Errorf(domain.EINVALID, "compression level %q is not one of fastest, default, better, best", name)
}

// Params returns the repository's parameters.
func (r *Repo) Params() Params { return r.p }

// Index returns the index the repository was opened with.
func (r *Repo) Index() Index { return r.idx }

// Close releases the compressor's goroutines.
func (r *Repo) Close() error {
	r.enc.Close()
	r.dec.Close()
	return nil
}

// canWrite reports why backups cannot be written, if they cannot.
func (r *Repo) canWrite() error {
	if r.p.Encrypted && len(r.recipients) == 0 {
		return domain.Errorf(domain.EINVALID, "the repository is encrypted: writing needs its age recipients")
	}
	if !r.p.Encrypted && len(r.recipients) > 0 {
		return domain.Errorf(domain.EINVALID, "the repository is not encrypted, but recipients were given: make a new repository to encrypt")
	}
	return nil
}

var errClosed = errors.New("backup already committed or aborted")
