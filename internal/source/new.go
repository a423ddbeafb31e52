package source

import (
	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
)

// New returns the Source for the configured source called name. A kind
// this build cannot dump is an EINVALID error naming it; each new kind
// adds one case here.
func New(name string, cfg config.Source) (Source, error) {
	switch cfg.Kind {
	case config.KindFiles:
		return newFiles(name, cfg)
	case config.KindSQLite:
		return newSQLite(name, cfg)
	case config.KindCommand:
		return newCommand(name, cfg)
	case config.KindPostgres:
		return newPostgres(name, cfg)
	case config.KindMySQL:
		return newMySQL(name, cfg)
	default:
		return nil, domain.Errorf(domain.EINVALID, "source %s: kind %q is not supported (use files, sqlite, command, postgres or mysql)", name, cfg.Kind)
	}
}
