package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testcert"
	"github.com/backupd/backupd/internal/testdaemon"
)

// --help prints no secret: the token's default is not read from the
// environment until a command runs.
func TestHelpShowsNoToken(t *testing.T) {
	_, ctl := testdaemon.Binaries(t)
	const secret = "supersecret-help-token-0123456789"
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"help", "tail"}, {"sources", "-h"}} {
		cmd := exec.Command(ctl, args...)
		cmd.Env = append(os.Environ(), "BACKUPD_TOKEN="+secret, "BACKUPD_URL=http://127.0.0.1:1", "BACKUPD_CACERT=/etc/ca.pem")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("backupctl %v: %v\n%s", args, err, out)
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("backupctl %v shows the token:\n%s", args, out)
		}
		if !strings.Contains(string(out), "(default $BACKUPD_TOKEN)") || !strings.Contains(string(out), "(default $BACKUPD_CACERT)") {
			t.Errorf("backupctl %v does not say where --token and --cacert come from:\n%s", args, out)
		}
	}
}

// Against a daemon whose certificate a private CA signed, backupctl
// trusts it with --cacert or BACKUPD_CACERT, for REST, downloads and
// tail's WebSocket, and without either says what to do.
func TestCACert(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "private CA")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.WriteLeaf(t, certFile, keyFile)
	d := testdaemon.Start(t, testdaemon.Options{Token: token, RootCAs: ca.Pool(),
		Config: "auth:\n  tokens: [\"" + token + "\"]\ntls:\n  cert_file: " + certFile + "\n  key_file: " + keyFile + "\n"})
	caFile := ca.WritePEM(t, dir, "ca.pem")
	otherCA := testcert.NewCA(t, "another CA").WritePEM(t, dir, "other-ca.pem")
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no --cacert", []string{"sources"}, 3, "the server's certificate is not trusted; give backupctl the certificate of the CA that signed it with --cacert FILE (or BACKUPD_CACERT)"},
		{"tail without --cacert", []string{"tail"}, 3, "not trusted"},
		{"another CA", []string{"--cacert", otherCA, "health"}, 3, "--cacert"},
		{"missing file", []string{"--cacert", filepath.Join(dir, "absent.pem"), "sources"}, 2, "--cacert (or BACKUPD_CACERT): open " + filepath.Join(dir, "absent.pem") + ": no such file or directory"},
		{"no certificate in it", []string{"--cacert", junk, "sources"}, 2, junk + " holds no PEM certificate"},
		{"health", []string{"--cacert", caFile, "health"}, 0, ""},
		{"sources", []string{"--cacert", caFile, "sources"}, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, errOut, code := d.Backupctl(tctx, c.args...)
			if code != c.code || !strings.Contains(errOut, c.stderr) {
				t.Fatalf("backupctl %v: exit %d, stderr %q; want exit %d, stderr containing %q", c.args, code, errOut, c.code, c.stderr)
			}
		})
	}

	t.Setenv("BACKUPD_CACERT", caFile)
	out := t.TempDir()
	if stdout, stderr, code := d.Backupctl(ctx, "run", "catalog", "--download", out+"/"); code != 0 {
		t.Fatalf("run --download over https: exit %d\n%s%s", code, stdout, stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(out, "catalog-*.tar.zst")); len(files) != 1 {
		t.Fatalf("downloaded over https: %v", files)
	}

	_, ctl := testdaemon.Binaries(t)
	tctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(tctx, ctl, "--server", d.URL, "--token", token, "tail", "--since", "0", "-o", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	first := make(chan domain.Event, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev domain.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				first <- ev
				return
			}
		}
	}()
	select {
	case ev := <-first:
		if ev.ID != 1 || ev.Type != "backup.queued" {
			t.Fatalf("first event over wss: %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tail over wss printed nothing")
	}
}
