package bench_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// words make the compressible half of the generated data: text-like, with
// the repetition real documents and logs have.
var words = []string{"backup", "archive", "restore", "daemon", "catalog", "source", "event", "webhook",
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be", "at",
	"2026-11-23T16:00:00Z", "INFO", "WARN", "request", "latency_ms=", "status=200", "user_id=", "GET", "/api/v1/"}

// genTree writes about total bytes into dir as files of mixed sizes: half
// text, half random (incompressible), in nested directories.
func genTree(b testing.TB, dir string, total int64) (files int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var written int64
	for written < total {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", files%37), fmt.Sprintf("e%02d", files%11))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		size := int64(4<<10) + rng.Int64N(512<<10)
		if files%50 == 0 {
			size = 8 << 20 // a few large files among the small ones
		}
		path := filepath.Join(sub, fmt.Sprintf("f%05d", files))
		if files%2 == 0 {
			writeText(b, path, size, rng)
		} else {
			writeRandom(b, path, size, rng)
		}
		written += size
		files++
	}
	return files
}

func writeText(b testing.TB, path string, size int64, rng *rand.Rand) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for n < size {
		word := words[rng.IntN(len(words))]
		k, _ := w.WriteString(word)
		n += int64(k)
		if rng.IntN(12) == 0 {
			w.WriteByte('\n')
		} else {
			w.WriteByte(' ')
		}
		n++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

func writeRandom(b testing.TB, path string, size int64, rng *rand.Rand) {
	buf := make([]byte, size)
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.Fatal(err)
	}
}
