package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
	"time"
)

// benchData is 64 MiB of half log-like text, half random bytes, in files
// of 256 KiB: the mix a backup tool mostly sees.
func benchData() [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"GET", "POST", "/api/v1/items", "status=200", "user", "backup", "commit", "error", "retry"}
	var files [][]byte
	for i := 0; i < 256; i++ {
		var b bytes.Buffer
		for b.Len() < 256<<10 {
			if i%2 == 0 {
				fmt.Fprintf(&b, "2026-03-%02d 12:%02d:%02d %s %s id=%d took=%dms\n", r.IntN(28)+1, r.IntN(60), r.IntN(60),
					words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1e7), r.IntN(5000))
			} else {
				var w [8]byte
				for j := range w {
					w[j] = byte(r.Uint32())
				}
				b.Write(w[:])
			}
		}
		files = append(files, b.Bytes()[:256<<10])
	}
	return files
}

// BenchmarkWriter measures the Writer at each level against the zstd CLI
// at -3 -T0 on the same tar stream, in the same run (the CLI case is
// skipped without zstd in PATH). Compare the MB/s columns; the ratio is
// reported as out/in.
func BenchmarkWriter(b *testing.B) {
	files := benchData()
	var total int64
	for _, f := range files {
		total += int64(len(f))
	}
	for _, level := range []string{"default", "better", "best"} {
		b.Run(level, func(b *testing.B) {
			b.SetBytes(total)
			var out int64
			for b.Loop() {
				w, err := NewWriter(io.Discard, Meta{}, Options{Level: level})
				if err != nil {
					b.Fatal(err)
				}
				for i, f := range files {
					h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("f%04d", i), Size: int64(len(f)), Mode: 0o644, ModTime: time.Now()}
					if err := w.AddFile(h, bytes.NewReader(f)); err != nil {
						b.Fatal(err)
					}
				}
				res, err := w.Close()
				if err != nil {
					b.Fatal(err)
				}
				out = res.Size
			}
			b.ReportMetric(float64(out)/float64(total), "ratio")
		})
	}
	b.Run("zstd-cli-3", func(b *testing.B) {
		if _, err := exec.LookPath("zstd"); err != nil {
			b.Skip("zstd not in PATH")
		}
		var tarball bytes.Buffer
		tw := tar.NewWriter(&tarball)
		for i, f := range files {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("f%04d", i), Size: int64(len(f)), Mode: 0o644})
			tw.Write(f)
		}
		tw.Close()
		b.SetBytes(total)
		var out int64
		for b.Loop() {
			cmd := exec.Command("zstd", "-q", "-3", "-T0", "-c")
			cmd.Stdin = bytes.NewReader(tarball.Bytes())
			cw := &countWriter{}
			cmd.Stdout = cw
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			out = cw.n
		}
		b.ReportMetric(float64(out)/float64(total), "ratio")
	})
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
