-- The repository index (internal/repo): what a daemon without the age
-- identity needs to deduplicate and to prune. The store holds the data;
-- these rows only say where it is and who needs it. Ids are 32-byte BLOBs.

-- One row: the prune generation. Each marking pass increments it; a
-- backup's lease records it at start, so prune knows which backups began
-- before a mark (and may have looked chunks up in the packs it marked).
CREATE TABLE repo_state (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    gen INTEGER NOT NULL
);
INSERT INTO repo_state (id, gen) VALUES (1, 0);

-- Packs durable in the store. marked_at is set when no snapshot needed the
-- pack (prune's first phase) and cleared when a backup commits needing it.
CREATE TABLE repo_packs (
    id         BLOB    PRIMARY KEY,
    size       INTEGER NOT NULL,
    blobs      INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    gen        INTEGER NOT NULL,
    marked_at  TEXT,
    marked_gen INTEGER
);

-- One location per chunk id (the keyed hash of its content).
CREATE TABLE repo_chunks (
    id          BLOB    PRIMARY KEY,
    pack        BLOB    NOT NULL,
    pack_offset INTEGER NOT NULL,
    length      INTEGER NOT NULL,
    raw_length  INTEGER NOT NULL,
    type        INTEGER NOT NULL CHECK (type IN (0, 1)) -- 0 data, 1 tree
);
CREATE INDEX repo_chunks_pack ON repo_chunks (pack);

-- Committed snapshots, and the packs each needs (recorded at commit: the
-- writer cannot read the encrypted snapshot back to find out).
CREATE TABLE repo_snapshots (
    id        BLOB    PRIMARY KEY,
    source    TEXT    NOT NULL,
    backup_id INTEGER NOT NULL,
    time      TEXT    NOT NULL,
    size      INTEGER NOT NULL
);
CREATE INDEX repo_snapshots_source ON repo_snapshots (source, time);
CREATE TABLE repo_snapshot_packs (
    snapshot BLOB NOT NULL REFERENCES repo_snapshots (id) ON DELETE CASCADE,
    pack     BLOB NOT NULL,
    PRIMARY KEY (snapshot, pack)
);
CREATE INDEX repo_snapshot_packs_pack ON repo_snapshot_packs (pack);

-- Backups in progress. A lease not renewed for repo.LeaseTTL has lapsed:
-- prune no longer waits for it, and its backup cannot commit.
CREATE TABLE repo_leases (
    id         INTEGER PRIMARY KEY,
    gen        INTEGER NOT NULL,
    started_at TEXT    NOT NULL,
    renewed_at TEXT    NOT NULL
);
