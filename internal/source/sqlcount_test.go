package source

import (
	"maps"
	"strings"
	"testing"
)

func TestRowCounterLongEscapedString(t *testing.T) {
	// A long string full of escapes is scanned in linear time; the count
	// is right whatever the chunking.
	body := strings.Repeat("line\\n and a \\' quote ", 20000)
	dump := "CREATE TABLE `t` (`s` text);\nINSERT INTO `t` VALUES\n('" + body + "'),\n('x');\n"
	for _, chunk := range []int{5, 4096, len(dump)} {
		c := newRowCounter()
		for i := 0; i < len(dump); i += chunk {
			c.Write([]byte(dump[i:min(i+chunk, len(dump))]))
		}
		if got := c.Tables()["t"]; got != 2 {
			t.Errorf("chunks of %d: %d rows, want 2", chunk, got)
		}
	}
}

func TestRowCounter(t *testing.T) {
	dump := "-- MariaDB dump\n" +
		"/*!40101 SET NAMES utf8mb4 */;\n" +
		"DROP TABLE IF EXISTS `items`;\n" +
		"CREATE TABLE `items` (\n  `id` int NOT NULL,\n  `body` text\n) ENGINE=InnoDB;\n" +
		"CREATE TABLE `empty` (`id` int);\n" +
		"CREATE TABLE `really_empty` (`id` int);\n" +
		"CREATE TABLE `we``ird` (`id` int);\n" +
		"CREATE TABLE IF NOT EXISTS `general_log` (`id` int) ENGINE=CSV;\n" +
		"CREATE TABLE IF NOT EXISTS `transaction_registry` (`id` int);\n" +
		"INSERT INTO `transaction_registry` VALUES (1);\n" +
		"LOCK TABLES `items` WRITE;\n" +
		"INSERT INTO `items` VALUES (1,'plain'),(2,'a\\'b),(c'),(3,NULL),(4,'(('),(5,0x00FF28),(6,'back\\\\'),(7,'ünï\\nline');\n" +
		"INSERT INTO `items` VALUES (8,'x');\n" +
		"INSERT INTO `we``ird` VALUES (1),(2);\n" +
		"INSERT INTO `empty` VALUES\n(1,'x;y'),\n(2,'(\\');\n'),\n(3,NULL);\n" +
		"/*!50001 CREATE TABLE `v` (`id` int) */;\n" +
		"-- INSERT INTO `items` VALUES (99,'a comment')\n" +
		"UNLOCK TABLES;\n"
	want := map[string]int64{"items": 8, "empty": 3, "we`ird": 2, "really_empty": 0, "general_log": 0, "transaction_registry": 1}
	for _, chunk := range []int{1, 3, 7, len(dump)} {
		c := newRowCounter()
		for i := 0; i < len(dump); i += chunk {
			c.Write([]byte(dump[i:min(i+chunk, len(dump))]))
		}
		if got := c.Tables(); !maps.Equal(got, want) {
			t.Errorf("chunks of %d: counts = %v, want %v", chunk, got, want)
		}
	}
}
