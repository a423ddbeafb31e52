package bench_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// mixedTree is a generated tree: count files of about total bytes in all,
// randomPct per cent of the bytes random (incompressible), the rest text.
// The same seed makes the same tree, byte for byte.
type mixedTree struct {
	seed      uint64
	total     int64
	count     int
	randomPct int
	files     []mixedFile
}

type mixedFile struct {
	rel    string
	size   int64
	random bool
}

// genMixedTree writes t into dir. Sizes are mostly small (log-uniform
// 1-64 KiB) with one file in 33 large (256 KiB-8 MiB), scaled to the
// total; about 40 files per directory, two levels deep.
func genMixedTree(b testing.TB, dir string, t *mixedTree) {
	b.Helper()
	rng := rand.New(rand.NewPCG(t.seed, 14))
	sizes := make([]float64, t.count)
	var sum float64
	for i := range sizes {
		lo, hi := 1<<10, 64<<10
		if rng.IntN(33) == 0 {
			lo, hi = 256<<10, 8<<20
		}
		sizes[i] = float64(lo) * math.Exp(rng.Float64()*math.Log(float64(hi)/float64(lo)))
		sum += sizes[i]
	}
	t.files = make([]mixedFile, t.count)
	for i := range t.files {
		t.files[i] = mixedFile{rel: mixedPath(i), size: max(1, int64(sizes[i]*float64(t.total)/sum))}
	}
	// Random content for files in a shuffled order until their bytes
	// reach the share asked for.
	var random int64
	for _, i := range rng.Perm(t.count) {
		if random*100 >= t.total*int64(t.randomPct) {
			break
		}
		t.files[i].random = true
		random += t.files[i].size
	}
	for _, f := range t.files {
		writeMixed(b, filepath.Join(dir, f.rel), f, rng)
	}
}

// mixedPath names file i: a%02d/b%02d/f%05d, 40 files per directory.
func mixedPath(i int) string {
	d := i / 40
	return filepath.Join(fmt.Sprintf("a%02d", d/25), fmt.Sprintf("b%02d", d%25), "f"+strconv.Itoa(i)+".dat")
}

func writeMixed(b testing.TB, path string, f mixedFile, rng *rand.Rand) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if f.random {
		writeRandom(b, path, f.size, rng)
	} else {
		writeText(b, path, f.size, rng)
	}
}

// rewriteShare gives pct per cent of t's files (by count, chosen by round)
// new content of the same size and kind, and returns their bytes.
func rewriteShare(b testing.TB, dir string, t *mixedTree, pct float64, round int) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(t.seed, 1000+uint64(round)))
	n := max(1, int(float64(len(t.files))*pct/100))
	var bytes int64
	for _, i := range rng.Perm(len(t.files))[:n] {
		writeMixed(b, filepath.Join(dir, t.files[i].rel), t.files[i], rng)
		bytes += t.files[i].size
	}
	return bytes
}
