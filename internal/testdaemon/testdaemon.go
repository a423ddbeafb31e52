// Package testdaemon runs the real backupd binary for end-to-end tests:
// built once per test process, started as a subprocess on a loopback port,
// stopped, killed and restarted on the same data directory and port.
package testdaemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/client"
	"github.com/backupd/backupd/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Main runs the tests and then removes the built binaries. Call it from
// TestMain in packages that use this one.
func Main(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// Binaries builds backupd and backupctl once and returns their paths.
func Binaries(t testing.TB) (backupd, backupctl string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "backupd-test-bin-")
		if buildErr != nil {
			return
		}
		root := moduleRoot()
		for _, name := range []string{"backupd", "backupctl"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "backupd"), filepath.Join(binDir, "backupctl")
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Daemon is a running (or stopped) backupd subprocess.
type Daemon struct {
	// URL is the base URL, e.g. http://127.0.0.1:34567 (https with
	// Options.RootCAs).
	URL     string
	Addr    string
	DataDir string
	// Config is the YAML the daemon was started with ("" for none).
	Config  string
	Token   string
	LogPath string

	t       testing.TB
	rootCAs *x509.CertPool
	http    *http.Client
	cmd     *exec.Cmd
	// exited is closed when the process has been waited for.
	exited chan struct{}
}

// Options configure Start.
type Options struct {
	// Config is YAML written to a file and passed with --config. The
	// listen address and data dir are passed as flags, so leave them out.
	Config string
	// DataDir defaults to a fresh t.TempDir().
	DataDir string
	// Token, if set, is what Client sends (the config must list it).
	Token string
	Env   []string
	// RootCAs, if set, means the config serves TLS with a certificate
	// that one of these signed: URL is https and Client and HTTPClient
	// trust them.
	RootCAs *x509.CertPool
}

// Start runs backupd serve and waits until /healthz answers. It is stopped
// (SIGTERM) when the test ends.
func Start(t testing.TB, opt Options) *Daemon {
	t.Helper()
	if opt.DataDir == "" {
		opt.DataDir = t.TempDir()
	}
	if err := os.MkdirAll(opt.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{DataDir: opt.DataDir, Config: opt.Config, Token: opt.Token, t: t,
		Addr: testenv.FreeAddr(t), LogPath: filepath.Join(opt.DataDir, "backupd.log"), rootCAs: opt.RootCAs, http: http.DefaultClient}
	d.URL = "http://" + d.Addr
	if opt.RootCAs != nil {
		d.URL = "https://" + d.Addr
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: opt.RootCAs}
		d.http = &http.Client{Transport: tr}
	}
	d.start(opt.Env)
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(d.LogPath); err == nil {
				t.Logf("backupd log:\n%s", tail(string(b), 8000))
			}
		}
	})
	return d
}

func (d *Daemon) start(env []string) {
	d.t.Helper()
	backupd, _ := Binaries(d.t)
	args := []string{"serve", "--listen", d.Addr, "--data-dir", d.DataDir}
	if d.Config != "" {
		path := filepath.Join(d.DataDir, "backupd.yaml")
		if err := os.WriteFile(path, []byte(d.Config), 0o600); err != nil {
			d.t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	d.cmd = exec.Command(backupd, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.Env = append(os.Environ(), env...)
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		d.t.Fatalf("start backupd: %v", err)
	}
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); logf.Close(); close(d.exited) }()
	d.waitHealthy()
}

func (d *Daemon) waitHealthy() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			b, _ := os.ReadFile(d.LogPath)
			d.t.Fatalf("backupd exited at start:\n%s", tail(string(b), 4000))
		default:
		}
		resp, err := d.http.Get(d.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("backupd did not become healthy at %s", d.URL)
}

// PID returns the daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// PeakRSS returns the daemon's peak resident set size so far (VmHWM), in
// bytes, read from /proc.
func (d *Daemon) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.PID()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", d.PID())
}

// HTTPClient is an HTTP client for the daemon's URL (trusting
// Options.RootCAs).
func (d *Daemon) HTTPClient() *http.Client { return d.http }

// Client returns an API client of the daemon, with its token.
func (d *Daemon) Client() *client.Client {
	var opts []client.Option
	if d.rootCAs != nil {
		opts = append(opts, client.WithRootCAs(d.rootCAs))
	}
	c, err := client.New(d.URL, d.Token, opts...)
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// Stop sends SIGTERM and waits for the process to exit.
func (d *Daemon) Stop() { d.signal(syscall.SIGTERM) }

// Kill sends SIGKILL: a crash, as far as the daemon can tell.
func (d *Daemon) Kill() { d.signal(syscall.SIGKILL) }

func (d *Daemon) signal(sig syscall.Signal) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
}

// Restart starts the daemon again on the same address, data and config.
func (d *Daemon) Restart(env ...string) {
	d.t.Helper()
	d.Stop()
	d.start(env)
}

// Backupctl runs the backupctl binary against the daemon and returns its
// stdout, stderr and exit code.
func (d *Daemon) Backupctl(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	_, ctl := Binaries(d.t)
	cmd := exec.CommandContext(ctx, ctl, args...)
	cmd.Env = append(os.Environ(), "BACKUPD_URL="+d.URL, "BACKUPD_TOKEN="+d.Token)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("run backupctl: %v", err)
	}
	return out.String(), errb.String(), code
}

// WaitBackup polls until backup id reaches a final status.
func (d *Daemon) WaitBackup(id int64) (b Backup) {
	d.t.Helper()
	c := d.Client()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		got, err := c.Backup(context.Background(), id)
		if err != nil {
			d.t.Fatalf("get backup %d: %v", id, err)
		}
		if got.Status.Final() {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("backup %d did not finish", id)
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
