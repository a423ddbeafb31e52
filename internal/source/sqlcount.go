package source

import "bytes"

// rowCounter counts the rows in a mariadb-dump / mysqldump stream as it
// passes through: every top-level tuple of each "INSERT INTO `t` VALUES
// (...),(...);" statement counts one row of t (the tuples on the INSERT's
// line, or one per line after it, as mariadb-dump writes them), and "CREATE
// TABLE `t`" lines name the tables, so empty ones count 0. System tables
// (the mysql database's general_log, slow_log, transaction_registry) are
// written "CREATE TABLE IF NOT EXISTS `t`", with no rows for the logs. The counts are what a restore of
// this very dump loads, which is what a restore drill checks, and counting
// them here costs the database server nothing.
//
// It relies on the dump's shape with the flags in MySQLDumpFlags: each
// statement starts a line, extended inserts without column lists, strings in
// single quotes with backslash escapes, binary data in hex. It is a
// byte-level state machine, so chunks may split anything anywhere.
type rowCounter struct {
	tables map[string]int64
	st     counterState
	line   []byte // the start of the current line, while deciding its kind
	name   []byte // the table name being read
	insert bool   // the name belongs to an INSERT (else a CREATE TABLE)
	depth  int    // parenthesis depth inside VALUES, outside strings
	cur    string // table the VALUES belong to
}

type counterState int

const (
	stLineStart counterState = iota // collecting the first bytes of a line
	stSkipLine                      // not a line we count: wait for '\n'
	stName                          // inside `...` of the table name
	stNameTick                      // saw '`' in a name: end, or "``"
	stValues                        // in the VALUES list, outside strings
	stString                        // inside '...'
	stEscape                        // after '\' inside a string
)

var (
	insertPrefix   = []byte("INSERT INTO `")
	createPrefix   = []byte("CREATE TABLE `")
	createIfPrefix = []byte("CREATE TABLE IF NOT EXISTS `")
)

func newRowCounter() *rowCounter {
	return &rowCounter{tables: map[string]int64{}}
}

// Tables returns the counts seen so far.
func (c *rowCounter) Tables() map[string]int64 { return c.tables }

// Write feeds the next bytes of the dump; it never fails.
func (c *rowCounter) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch c.st {
		case stLineStart:
			c.lineStart(b)
		case stSkipLine:
			// Most of a dump is skipped or inside values: jump to the
			// end of the line instead of looking at every byte.
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				return len(p), nil
			}
			i += j
			c.newLine()
		case stName:
			if b == '`' {
				c.st = stNameTick
			} else {
				c.name = append(c.name, b)
			}
		case stNameTick:
			if b == '`' { // a doubled backquote is one in the name
				c.name = append(c.name, '`')
				c.st = stName
				continue
			}
			c.endName()
			i-- // this byte belongs to what follows the name
		case stValues:
			i += c.values(p[i:])
		case stString, stEscape:
			i += c.inString(p[i:]) - 1
		}
	}
	return len(p), nil
}

// lineStart collects a line's first bytes until they show whether it is an
// INSERT or a CREATE TABLE.
func (c *rowCounter) lineStart(b byte) {
	if b == '\n' {
		c.newLine()
		return
	}
	c.line = append(c.line, b)
	switch {
	case hasPrefixOf(c.line, insertPrefix):
		if len(c.line) == len(insertPrefix) {
			c.insert, c.name, c.st = true, c.name[:0], stName
		}
	case hasPrefixOf(c.line, createPrefix):
		if len(c.line) == len(createPrefix) {
			c.insert, c.name, c.st = false, c.name[:0], stName
		}
	case hasPrefixOf(c.line, createIfPrefix):
		if len(c.line) == len(createIfPrefix) {
			c.insert, c.name, c.st = false, c.name[:0], stName
		}
	default:
		c.st = stSkipLine
	}
}

func (c *rowCounter) endName() {
	name := string(c.name)
	if _, ok := c.tables[name]; !ok {
		c.tables[name] = 0
	}
	if !c.insert {
		c.st = stSkipLine
		return
	}
	c.cur, c.depth, c.st = name, 0, stValues
}

// values scans an INSERT's VALUES outside strings and returns how many
// bytes of p it consumed, less one (the caller's loop adds it).
func (c *rowCounter) values(p []byte) int {
	for i, b := range p {
		switch b {
		case '(':
			if c.depth == 0 {
				c.tables[c.cur]++
			}
			c.depth++
		case ')':
			c.depth--
		case '\'':
			c.st = stString
			return i
		case ';':
			// The statement ends here (tuples may stand one per line,
			// as mariadb-dump writes them with --quick).
			if c.depth == 0 {
				c.st = stSkipLine
				return i
			}
		}
	}
	return len(p) - 1
}

func (c *rowCounter) newLine() {
	c.st, c.line = stLineStart, c.line[:0]
}

// inString advances through quoted text and returns how many bytes of p
// it consumed: through the closing quote (then back in VALUES), or all of p.
// Most of a dump is quoted text, so it jumps with IndexByte (vectorised)
// rather than looking at each byte, and it remembers where the next quote
// is, so that a string full of escapes is still scanned once.
func (c *rowCounter) inString(p []byte) int {
	i, q := 0, -1 // q: the next quote at or after i, once looked up
	for i < len(p) {
		if c.st == stEscape {
			c.st = stString
			i++
			continue
		}
		if q < i {
			if q = bytes.IndexByte(p[i:], '\''); q < 0 {
				q = len(p)
			} else {
				q += i
			}
		}
		b := bytes.IndexByte(p[i:q], '\\')
		if b < 0 {
			if q == len(p) {
				return len(p)
			}
			c.st = stValues
			return q + 1
		}
		i += b + 1
		c.st = stEscape
	}
	return len(p)
}

// hasPrefixOf reports whether line so far agrees with prefix.
func hasPrefixOf(line, prefix []byte) bool {
	n := min(len(line), len(prefix))
	return string(line[:n]) == string(prefix[:n])
}
