package storage

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An archive written in small pieces is dropped from the page cache behind
// the writer, all but its last chunks, and reads back intact.
func TestWriteDropsBehind(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the temp dir is on tmpfs, whose pages cannot be dropped: set TMPDIR to a disk")
	}
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Create("big.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	const total = 112 << 20
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{1}).Read(data)
	rng := rand.New(rand.NewPCG(1, 2))
	for off := 0; off < total; {
		n := min(37<<10+rng.IntN(64<<10), total-off)
		if _, err := p.Write(data[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	resident := residentBytes(t, p.(*Pending).f.Name())
	if limit := int64(dropLag + 2*writebackChunk + WriteBuffer); resident > limit {
		t.Errorf("%d MiB of the %d MiB written are still cached, want at most %d MiB",
			resident>>20, total>>20, limit>>20)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := l.Open("big.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
}

// residentBytes is how much of the file is in the page cache, by mincore(2).
func residentBytes(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	var n int64
	for _, v := range vec {
		if v&1 != 0 {
			n += int64(page)
		}
	}
	return n
}
