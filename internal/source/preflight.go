package source

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// Preflight lists what would make the configured source's backups fail
// if nothing changes before they run: a path that does not exist, a
// program missing from PATH. They are warnings, not errors: a mount may
// come up, a package be installed, after the daemon starts; but they are
// better read at start than in a failed backup at 03:00.
func Preflight(cfg config.Source) []string {
	var warn []string
	missingTool := func(pkg string, names ...string) {
		if _, err := LookTool(pkg, names...); err != nil {
			warn = append(warn, domain.ErrorMessage(err)+"; its backups fail until then")
		}
	}
	switch cfg.Kind {
	case config.KindFiles:
		if st, err := os.Stat(cfg.Path); err != nil {
			warn = append(warn, fmt.Sprintf("path %s %s", cfg.Path, errText(err)))
		} else if !st.IsDir() {
			warn = append(warn, fmt.Sprintf("path %s is not a directory", cfg.Path))
		}
	case config.KindSQLite:
		if _, err := os.Stat(cfg.Path); err != nil {
			warn = append(warn, fmt.Sprintf("path %s %s", cfg.Path, errText(err)))
		}
	case config.KindCommand:
		if _, err := exec.LookPath(cfg.Command[0]); err != nil {
			warn = append(warn, fmt.Sprintf("command %s is not an executable in PATH or at that path", cfg.Command[0]))
		}
	case config.KindPostgres:
		missingTool("postgresql-client", "pg_dump")
		if cfg.All {
			missingTool("postgresql-client", "pg_dumpall")
		}
	case config.KindMySQL:
		missingTool("mariadb-client (or mysql-client)", "mariadb-dump", "mysqldump")
	}
	return warn
}

// errText is what a failed stat means, in words.
func errText(err error) string {
	switch {
	case os.IsNotExist(err):
		return "does not exist"
	case os.IsPermission(err):
		return "cannot be read: permission denied"
	}
	return "cannot be read: " + err.Error()
}
