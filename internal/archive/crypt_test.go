package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/testenv"
)

// An archive written for an age recipient is ciphertext (its SHA-256 is
// that of the encrypted file), extracts with the identity, is refused
// without one or with the wrong one, and opens with the age CLI by hand.
func TestEncryptedArchive(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Meta{Source: "s", Kind: "files", BackupID: 3, Started: time.Now()}, Options{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Repeat("the payroll, in plain text\n", 1000)
	if err := w.AddStream("payroll.txt", strings.NewReader(secret)); err != nil {
		t.Fatal(err)
	}
	res, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != res.SHA256 || res.Size != int64(len(data)) {
		t.Fatalf("result %d bytes %s, file %d bytes %x", res.Size, res.SHA256, len(data), sum)
	}
	if !bytes.HasPrefix(data, ageMagic) || bytes.Contains(data, []byte("payroll")) {
		t.Fatal("the archive is not age ciphertext")
	}
	if enc, _ := encrypted(bytes.NewReader(data)); !enc {
		t.Fatal("encrypted says no")
	}

	plain, err := Decrypt(bytes.NewReader(data), []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, err := Extract(context.Background(), plain, dir)
	if err != nil || m.BackupID != 3 {
		t.Fatalf("extract: %+v, %v", m, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "payroll.txt")); string(got) != secret {
		t.Fatal("the decrypted stream differs")
	}

	if _, err := Decrypt(bytes.NewReader(data), nil); err == nil || !strings.Contains(err.Error(), "encrypted with age: give the identity file") {
		t.Fatalf("no identity: %v", err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := Decrypt(bytes.NewReader(data), []age.Identity{other}); err == nil || !strings.Contains(err.Error(), "no identity given is one of its recipients") {
		t.Fatalf("wrong identity: %v", err)
	}
	if r, err := Decrypt(strings.NewReader("\x28\xb5\x2f\xfdplain zstd"), nil); err != nil || r == nil {
		t.Fatalf("a plain archive needs no identity: %v", err)
	}

	// By hand: age -d -i key ARCHIVE | zstd -d | tar -x.
	ageCLI := testenv.Command(t, "age")
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := ReadIdentities(keyFile)
	if err != nil || len(ids) != 1 {
		t.Fatalf("ReadIdentities: %v, %v", ids, err)
	}
	arch := filepath.Join(t.TempDir(), "a.tar.zst.age")
	if err := os.WriteFile(arch, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ageCLI, "-d", "-i", keyFile, arch).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if _, err := ReadManifest(bytes.NewReader(out)); err != nil {
		t.Fatalf("what age -d gave is not the archive: %v", err)
	}
}
