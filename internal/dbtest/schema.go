package dbtest

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/source"
)

// Tables are the tables Fill creates, in the order they are compared.
var Tables = []string{"items", "tags", "empty"}

// Fill creates the test schema in db and puts rows items in it (and a
// tenth as many tags): unicode, NULLs every 7th row, binary with every
// byte value, a view, a function and a trigger that keeps a count.
func Fill(t testing.TB, srv source.Server, db string, rows int) {
	t.Helper()
	conn := Open(t, srv, db)
	if srv.Kind == config.KindPostgres {
		Exec(t, conn,
			`CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, note text, data bytea, price numeric(12,2), created timestamptz DEFAULT now())`,
			`CREATE TABLE tags (id serial PRIMARY KEY, item_id bigint REFERENCES items(id), tag text)`,
			`CREATE TABLE empty (id int PRIMARY KEY)`,
			`CREATE TABLE tag_count (n bigint NOT NULL)`,
			`INSERT INTO tag_count VALUES (0)`,
			`CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE tag_count SET n = n + 1; RETURN NEW; END $$`,
			`CREATE TRIGGER tags_bump AFTER INSERT ON tags FOR EACH ROW EXECUTE FUNCTION bump()`,
			`CREATE VIEW items_v AS SELECT id, upper(name) AS name FROM items WHERE note IS NOT NULL`,
			fmt.Sprintf(`INSERT INTO items (name, note, data, price)
				SELECT 'nåme-✓-ß-日本-' || i, CASE WHEN i %% 7 = 0 THEN NULL ELSE 'note ' || md5(i::text) END,
				decode(md5(i::text) || lpad(to_hex(i %% 256), 2, '0') || '00ff27225c', 'hex'), i / 100.0
				FROM generate_series(1, %d) i`, rows),
			fmt.Sprintf(`INSERT INTO tags (item_id, tag) SELECT i, CASE WHEN i %% 3 = 0 THEN NULL ELSE 'tag''"\' || i END
				FROM generate_series(1, %d) i`, max(1, rows/10)),
		)
		return
	}
	Exec(t, conn,
		`CREATE TABLE items (id bigint AUTO_INCREMENT PRIMARY KEY, name varchar(200) NOT NULL, note text, data blob, price decimal(12,2), created timestamp(6) DEFAULT CURRENT_TIMESTAMP(6)) CHARACTER SET utf8mb4`,
		`CREATE TABLE tags (id int AUTO_INCREMENT PRIMARY KEY, item_id bigint, tag varchar(100), FOREIGN KEY (item_id) REFERENCES items(id)) CHARACTER SET utf8mb4`,
		`CREATE TABLE empty (id int PRIMARY KEY)`,
		`CREATE TABLE tag_count (n bigint NOT NULL)`,
		`INSERT INTO tag_count VALUES (0)`,
		`CREATE FUNCTION shout(s text) RETURNS text DETERMINISTIC RETURN UPPER(s)`,
		`CREATE TRIGGER tags_bump AFTER INSERT ON tags FOR EACH ROW UPDATE tag_count SET n = n + 1`,
		`CREATE VIEW items_v AS SELECT id, shout(name) AS name FROM items WHERE note IS NOT NULL`,
		fmt.Sprintf(`SET STATEMENT max_recursive_iterations = 100000000 FOR INSERT INTO items (name, note, data, price)
			WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d)
			SELECT CONCAT('nåme-✓-ß-日本-', i), IF(i %% 7 = 0, NULL, CONCAT('note ', MD5(i))),
			UNHEX(CONCAT(MD5(i), LPAD(HEX(i %% 256), 2, '0'), '00ff27225c')), i / 100
			FROM seq`, rows),
		fmt.Sprintf(`SET STATEMENT max_recursive_iterations = 100000000 FOR INSERT INTO tags (item_id, tag)
			WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d)
			SELECT i, IF(i %% 3 = 0, NULL, CONCAT('tag''"\\', i)) FROM seq`, max(1, rows/10)),
	)
}

// MaxID is the largest items id now committed.
func MaxID(t testing.TB, conn *sql.DB) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM items`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Checksum sums the rows of table with id <= maxID (every row when maxID
// is 0) into a value that differs if any column of any row does.
func Checksum(t testing.TB, srv source.Server, conn *sql.DB, table string, maxID int64) string {
	t.Helper()
	where := ""
	if maxID > 0 {
		where = fmt.Sprintf(" WHERE id <= %d", maxID)
	}
	q := fmt.Sprintf(`SELECT count(*) || ':' || COALESCE(md5(string_agg(t::text, '|' ORDER BY id)), '') FROM %s t%s`, table, where)
	if srv.Kind == config.KindMySQL {
		// One CRC per row, summed: GROUP_CONCAT would hit its length cap.
		cols := map[string]string{
			"items": "id, name, IFNULL(note, '<null>'), HEX(data), price, created",
			"tags":  "id, item_id, IFNULL(tag, '<null>')",
			"empty": "id",
		}[table]
		q = fmt.Sprintf(`SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', %s))), 0), ':', COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', %s))), 0)) FROM %s%s`, cols, cols, table, where)
	}
	var s string
	if err := conn.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("checksum %s: %v", table, err)
	}
	return s
}

// CheckObjects fails t unless db has the view, function and trigger that
// Fill made, and they work.
func CheckObjects(t testing.TB, srv source.Server, conn *sql.DB) {
	t.Helper()
	var n int64
	if err := conn.QueryRow(`SELECT count(*) FROM items_v`).Scan(&n); err != nil || n == 0 {
		t.Errorf("view items_v after restore: %d rows, %v", n, err)
	}
	var before, after int64
	conn.QueryRow(`SELECT n FROM tag_count`).Scan(&before)
	if _, err := conn.Exec(`INSERT INTO tags (item_id, tag) VALUES (1, 'after restore')`); err != nil {
		t.Fatalf("insert after restore: %v", err)
	}
	if err := conn.QueryRow(`SELECT n FROM tag_count`).Scan(&after); err != nil || after != before+1 {
		t.Errorf("trigger after restore: tag_count %d -> %d (%v)", before, after, err)
	}
}
