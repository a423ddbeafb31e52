package main_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/testdaemon"
)

// With encryption.recipients, the daemon stores an encrypted repository
// and its downloads are age ciphertext (.age); its drill reads it with
// encryption.identity_file; backupctl restore needs --identity and then
// gets the files back; a daemon without the identity cannot drill its
// own backup and says why.
func TestEncryptedArchives(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "backupd.key")
	if err := os.WriteFile(keyFile, []byte("# backupd test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	secret := []byte("db_password=hunter2hunter2\n")
	if err := os.WriteFile(filepath.Join(data, "secrets.env"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	sources := fmt.Sprintf("sources:\n  app:\n    kind: files\n    path: %s\n", data)
	d := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf("encryption:\n  recipients: [%s]\n  identity_file: %s\n", id.Recipient(), keyFile) +
		strings.Replace(sources, "kind: files\n", "kind: files\n    verify: true\n", 1)})

	b := runBackup(t, d, "app")
	if !strings.HasSuffix(b.Archive, ".tar.zst.age") {
		t.Fatalf("archive name %q, want .tar.zst.age", b.Archive)
	}
	// Nothing in the repository reads without the key: the snapshot is
	// an age file, the chunks in the packs are sealed.
	stored := objects(t, repoDir(d))
	if !slices.Contains(stored, "snapshots/"+b.Snapshot) || len(packs(t, d)) == 0 {
		t.Fatalf("the repository holds %v, want the snapshot %s and packs", stored, b.Snapshot)
	}
	for _, name := range stored {
		data, err := os.ReadFile(filepath.Join(repoDir(d), filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("hunter2")) {
			t.Fatalf("%s in the repository holds the secret in plain", name)
		}
		if strings.HasPrefix(name, "snapshots/") && !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) {
			t.Fatalf("snapshot %s is not age ciphertext", name)
		}
	}
	b = waitVerified(t, d, b, time.Minute)
	if b.VerifyStatus != "passed" {
		t.Fatalf("drill with the identity: %q %q", b.VerifyStatus, b.VerifyError)
	}

	arch := t.TempDir()
	if _, errOut := ctl(t, d, 2, "restore", itoa(b.ID), "--to", t.TempDir(), "--archive", arch); !strings.Contains(errOut, "is encrypted with age") || !strings.Contains(errOut, "--identity FILE") {
		t.Fatalf("restore without --identity: %s", errOut)
	}
	if entries, _ := os.ReadDir(arch); len(entries) != 0 {
		t.Fatalf("restore without --identity downloaded anyway: %v", entries)
	}
	to := filepath.Join(t.TempDir(), "restored")
	ctl(t, d, 0, "restore", itoa(b.ID), "--to", to, "--archive", arch, "--identity", keyFile)
	if got, err := os.ReadFile(filepath.Join(to, "secrets.env")); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("restored secrets.env: %q, %v", got, err)
	}
	// What the download sent, and the export the daemon keeps, are age
	// ciphertext too.
	for _, p := range []string{filepath.Join(arch, b.Archive), exportPath(d, b)} {
		if data, err := os.ReadFile(p); err != nil || !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) || bytes.Contains(data, []byte("hunter2")) {
			t.Fatalf("%s is not age ciphertext (%v)", p, err)
		}
	}
	other, _ := age.GenerateX25519Identity()
	otherKey := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(otherKey, []byte(other.String()+"\n"), 0o600)
	if _, errOut := ctl(t, d, 1, "restore", itoa(b.ID), "--to", t.TempDir(), "--archive", arch, "--identity", otherKey); !strings.Contains(errOut, "no identity given is one of its recipients") {
		t.Fatalf("restore with another key: %s", errOut)
	}

	// Without identity_file the daemon writes archives it cannot read.
	d2 := testdaemon.Start(t, testdaemon.Options{Config: fmt.Sprintf("encryption:\n  recipients: [%s]\n", id.Recipient()) + sources})
	b2 := runBackup(t, d2, "app")
	if out, errOut := ctl(t, d2, 1, "verify", itoa(b2.ID)); !strings.Contains(out+errOut, "no encryption.identity_file") {
		t.Fatalf("verify without the identity:\n%s%s", out, errOut)
	}
}
