package testdaemon

import "github.com/backupd/backupd/internal/domain"

// Backup is domain.Backup, named here so callers need one import less.
type Backup = domain.Backup
