package source

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/testenv"
)

// The snapshot is consistent while another process (the sqlite3 shell)
// keeps committing, in WAL and in rollback-journal mode: the copy passes
// integrity_check and holds every row committed before the backup began.
func TestSQLiteSnapshotWhileAnotherProcessWrites(t *testing.T) {
	sqlite3 := testenv.Command(t, "sqlite3")
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "live.db")
			cmd := exec.Command(sqlite3, path)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriter(stdin)
			fmt.Fprintf(w, ".timeout 10000\nPRAGMA journal_mode=%s;\nCREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT);\n", mode)
			w.Flush()
			stop := make(chan struct{})
			writerDone := make(chan error, 1)
			go func() { // one autocommitted insert per line, until told to stop
				defer stdin.Close()
				for i := 0; ; i++ {
					select {
					case <-stop:
						writerDone <- w.Flush()
						return
					default:
					}
					fmt.Fprintf(w, "INSERT INTO items (body) VALUES ('row %d %0200d');\n", i, i)
					if i%50 == 0 {
						if err := w.Flush(); err != nil {
							writerDone <- err
							return
						}
					}
				}
			}()
			db := openDB(t, path)
			var before int64
			deadline := time.Now().Add(30 * time.Second)
			for before < 500 { // until the writer has committed a fair number
				if time.Now().After(deadline) {
					t.Fatal("the sqlite3 writer committed nothing")
				}
				db.QueryRow(`SELECT coalesce(max(id), 0) FROM items`).Scan(&before)
			}
			data, err := dump(t, newSource(t, config.Source{Kind: "sqlite", Path: path}))
			close(stop)
			if werr := <-writerDone; werr != nil {
				t.Errorf("writer: %v", werr)
			}
			cmd.Wait()
			if err != nil {
				t.Fatal(err)
			}
			dst, _ := extract(t, data)
			n := checkSnapshot(t, filepath.Join(dst, "live.db"), before)
			t.Logf("%s: %d rows committed before the backup, %d in the copy", mode, before, n)
		})
	}
}
