package source

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkRowCounter measures counting on dump-shaped data: one tuple per
// line, mostly quoted text, as mariadb-dump --quick writes it.
func BenchmarkRowCounter(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("CREATE TABLE `t` (`id` int);\nINSERT INTO `t` VALUES\n")
	for i := 0; buf.Len() < 32<<20; i++ {
		fmt.Fprintf(&buf, "(%d,'%032x','%s it\\'s \\\\ fine'),\n", i, i, bytes.Repeat([]byte("lorem ipsum "), 20))
	}
	buf.WriteString("(0,'',NULL);\n")
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := newRowCounter()
		c.Write(data)
	}
}
