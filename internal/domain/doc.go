// Package domain holds backupd's nouns (Backup, Event, Status, Origin) and its
// error type. It depends on nothing but the standard library, so every other
// package can share these types without importing an implementation.
package domain
