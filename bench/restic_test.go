package bench_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// resticInstall is how to get the restic the comparisons use (outside
// go.mod; `make bench-tools` runs it).
const resticInstall = "GOFLAGS=-buildvcs=false go install github.com/restic/restic/cmd/restic@v0.18.1"

// findRestic returns the restic binary from PATH or GOPATH/bin.
func findRestic() (string, error) {
	if p, err := exec.LookPath("restic"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return "", err
		}
		gopath = strings.TrimSpace(string(out))
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "restic")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("restic is in neither PATH nor GOPATH/bin")
}

// resticRepo is a restic repository in a directory of its own, with its
// own cache, so that runs share nothing with the user's restic.
type resticRepo struct {
	bin, dir string
	env      []string
}

// newRestic initialises a restic repository under work, or returns nil
// and logs that the restic comparison is skipped.
func newRestic(b *testing.B, work string) *resticRepo {
	b.Helper()
	bin, err := findRestic()
	if err != nil {
		b.Logf("restic comparison skipped: %v; install it with `make bench-tools` (%s)", err, resticInstall)
		return nil
	}
	r := &resticRepo{bin: bin, dir: filepath.Join(work, "restic-repo")}
	r.env = append(os.Environ(), "RESTIC_REPOSITORY="+r.dir, "RESTIC_PASSWORD=bench",
		"RESTIC_CACHE_DIR="+filepath.Join(work, "restic-cache"), "RESTIC_PROGRESS_FPS=0")
	r.run(b, "init")
	return r
}

// backup runs `restic backup` of dir (compression auto, restic 0.18's
// default, given explicitly) and returns its time and how much it grew
// the repository directory.
func (r *resticRepo) backup(b *testing.B, dir string) (timedRun, int64) {
	b.Helper()
	before := dirSize(b, r.dir)
	run := r.run(b, "backup", "--compression", "auto", "--host", "bench", dir)
	return run, dirSize(b, r.dir) - before
}

func (r *resticRepo) run(b *testing.B, args ...string) timedRun {
	b.Helper()
	cmd := exec.Command(r.bin, append([]string{"-q"}, args...)...)
	cmd.Env = r.env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("restic %v: %v\n%s", args, err, out)
	}
	return timedRun{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}
