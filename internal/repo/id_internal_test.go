package repo

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
)

// Pooled hashers give the ids a fresh keyed hasher gives, from any
// goroutine, whatever was hashed before.
func TestHasherPooled(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	h, err := newHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				data := bytes.Repeat([]byte(fmt.Sprint(g, i)), i*97)
				fresh, _ := blake3.NewKeyed(key)
				fresh.Write(data)
				var want ID
				fresh.Sum(want[:0])
				if got := h.sum(data); got != want {
					t.Errorf("id of %d bytes: %s, want %s", len(data), got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
