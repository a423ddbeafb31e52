package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/backupd/backupd/internal/domain"
)

// SyncOptions tune Sync.
type SyncOptions struct {
	// Sources, if set, limits the mirror to these sources.
	Sources []string
	// VerifyExisting re-reads every archive already in the directory and
	// downloads again one that does not match the catalog's SHA-256.
	// Without it, a file with the archive's name and size is taken as it
	// is: Download gave it that name only after verifying it.
	VerifyExisting bool
	// Start, if set, is called before an archive is fetched: the i-th
	// (from 1) of the n archives listed.
	Start func(i, n int, b domain.Backup)
	// Progress, if set, is called as the bytes of one archive arrive.
	Progress func(b domain.Backup, done, total int64)
	// Report, if set, is called once per archive, when it is settled.
	Report func(SyncItem)
}

// What Sync did with one archive.
const (
	SyncDownloaded = "downloaded" // fetched (or resumed) and verified
	SyncPresent    = "present"    // already in the directory with its size
	SyncVerified   = "verified"   // already there, re-read and matching (VerifyExisting)
	SyncGone       = "gone"       // removed by retention after the list was taken
	SyncFailed     = "failed"     // did not verify, or could not be written
)

// SyncItem is what became of one archive.
type SyncItem struct {
	BackupID int64  `json:"backup_id"`
	Source   string `json:"source"`
	Path     string `json:"path"`
	Size     int64  `json:"size_bytes"`
	SHA256   string `json:"sha256"`
	Action   string `json:"action"`
	Resumed  int64  `json:"resumed_bytes,omitempty"`
	Error    string `json:"error,omitempty"`
}

// SyncResult is what Sync did, archive by archive, newest first.
type SyncResult struct {
	Dir        string     `json:"dir"`
	Items      []SyncItem `json:"items"`
	Downloaded int        `json:"downloaded"`
	Bytes      int64      `json:"downloaded_bytes"` // transferred, not counting resumed prefixes
	Present    int        `json:"present"`
	Failed     int        `json:"failed"`
	Gone       int        `json:"gone"`
}

// Sync mirrors the archives of the server's succeeded backups into dir,
// newest first, one at a time: each missing one is downloaded (resuming a
// partial file) and verified against the catalog. Files in dir that the
// catalog no longer lists (archives removed by retention since) are left
// alone: the mirror may keep a longer history than the server.
//
// An archive that fails is recorded and the sync goes on; an error is
// returned for what stops the whole sync: the server cannot be reached or
// refuses, dir cannot be created, another sync holds it, or ctx ends.
func (c *Client) Sync(ctx context.Context, dir string, opt SyncOptions) (SyncResult, error) {
	res := SyncResult{Dir: dir}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, fmt.Errorf("create the sync directory: %w", err)
	}
	unlock, err := lockSyncDir(dir)
	if err != nil {
		return res, err
	}
	defer unlock()
	list, err := c.archived(ctx, opt.Sources)
	if err != nil {
		return res, err
	}
	for i, b := range list {
		item, err := c.syncOne(ctx, dir, b, i+1, len(list), opt)
		if err != nil {
			return res, err
		}
		res.Items = append(res.Items, item)
		switch item.Action {
		case SyncDownloaded:
			res.Downloaded++
			res.Bytes += item.Size - item.Resumed
		case SyncPresent, SyncVerified:
			res.Present++
		case SyncGone:
			res.Gone++
		case SyncFailed:
			res.Failed++
		}
		if opt.Report != nil {
			opt.Report(item)
		}
	}
	return res, nil
}

// archived lists the succeeded backups of this daemon that still have an
// archive, newest first, page by page.
func (c *Client) archived(ctx context.Context, sources []string) ([]domain.Backup, error) {
	var out []domain.Backup
	f := domain.BackupFilter{Status: domain.StatusSucceeded, Limit: domain.MaxLimit}
	if len(sources) == 1 {
		f.Source = sources[0] // the server filters one source itself
	}
	for {
		page, next, err := c.Backups(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, b := range page {
			if b.Origin == domain.OriginLocal && b.Archive != "" && (len(sources) == 0 || slices.Contains(sources, b.Source)) {
				out = append(out, b)
			}
		}
		if next == 0 {
			return out, nil
		}
		f.Before = next
	}
}

func (c *Client) syncOne(ctx context.Context, dir string, b domain.Backup, i, n int, opt SyncOptions) (SyncItem, error) {
	path := filepath.Join(dir, filepath.Base(b.Archive))
	item := SyncItem{BackupID: b.ID, Source: b.Source, Path: path, Size: b.DownloadSize(), SHA256: b.SHA256}
	if !opt.VerifyExisting {
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == b.DownloadSize() && b.SHA256 != "" {
			item.Action = SyncPresent
			return item, nil
		}
	}
	if opt.Start != nil {
		opt.Start(i, n, b)
	}
	var dopt DownloadOptions
	if opt.Progress != nil {
		dopt.Progress = func(done, total int64) { opt.Progress(b, done, total) }
	}
	res, err := c.Download(ctx, b.ID, path, dopt)
	if err == nil {
		item.Size, item.SHA256 = res.Size, res.SHA256
	}
	var unreachable *UnreachableError
	switch {
	case err == nil && res.Reused:
		item.Action = SyncVerified
	case err == nil:
		item.Action, item.Resumed = SyncDownloaded, res.Resumed
	case errors.As(err, &unreachable), IsUnauthorized(err), ctx.Err() != nil:
		return item, err
	case c.expired(ctx, b.ID):
		item.Action, item.Error = SyncGone, err.Error()
	default:
		item.Action, item.Error = SyncFailed, err.Error()
	}
	return item, nil
}

// expired reports whether backup id's archive has been removed by
// retention, which is not a failure of the sync: a download that started
// before the removal fails with whatever the server said then.
func (c *Client) expired(ctx context.Context, id int64) bool {
	b, err := c.Backup(ctx, id)
	return err == nil && b.Archive == ""
}

// SyncLockName is the lock file Sync holds in its directory while it runs.
const SyncLockName = ".backupctl-sync.lock"

// lockSyncDir takes an exclusive flock(2) on dir's lock file, or says that
// another sync holds it. Two syncs into one directory (a cron job that
// outlasts its interval) would resume each other's partial files and fail
// their checksums; the second one stops instead, before it writes. The
// lock goes with the process, so a killed sync leaves nothing to clean up;
// the empty lock file stays.
func lockSyncDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, SyncLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the sync lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another backupctl sync is mirroring into %s (it holds %s); wait for it to finish", dir, SyncLockName)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
