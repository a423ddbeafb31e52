-- Backups stored in the repository (internal/repo). Rows of archives made
-- before keep their values: snapshot '' marks a tar.zst archive, and the
-- byte counts the repository knows are 0 for them.
--
-- snapshot:      the repository snapshot id (hex), '' for an archive.
-- logical_bytes: the bytes read from the source (files and streams).
-- added_bytes:   what the backup added to the store (its packs, compressed
--                and sealed as stored); 0 when it found everything there.
-- export_bytes:  the size of the tar.zst export built for a download, 0
--                until one is built; sha256 is then that export's digest.
ALTER TABLE backups ADD COLUMN snapshot      TEXT    NOT NULL DEFAULT '';
ALTER TABLE backups ADD COLUMN logical_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN added_bytes   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN export_bytes  INTEGER NOT NULL DEFAULT 0;

-- The repository's parameters (repo.MarshalParams): what the daemon needs
-- to write without reading the store, which an encrypted repository's
-- writer cannot do. One row.
CREATE TABLE repo_params (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    params BLOB    NOT NULL
);
