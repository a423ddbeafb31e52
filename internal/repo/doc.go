// Package repo is backupd's deduplicating repository: streams and file
// trees are cut into content-defined chunks, each named by a keyed hash,
// compressed with zstd, encrypted to age recipients when configured, and
// gathered into pack files in a Backend (a local directory or an S3
// bucket). A snapshot names the chunks of one backup's tree.
//
// The writer needs neither the store's contents nor the private key: what
// it must know to deduplicate lives in an Index (in memory, or the
// catalog), and the repository's parameters are returned by Init for the
// caller to keep. Reading (Snapshots, Restore, Dump, Tar, Check) needs the
// store alone, and the identity when the repository is encrypted.
//
// The format is described in docs/repository.md.
package repo
