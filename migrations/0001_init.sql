-- Backups: one row per backup run here (origin local) or reported to the
-- inbound webhook (origin webhook). Times are UTC RFC 3339 text.
CREATE TABLE backups (
    id            INTEGER PRIMARY KEY,
    source        TEXT    NOT NULL,
    kind          TEXT    NOT NULL DEFAULT '',
    origin        TEXT    NOT NULL CHECK (origin IN ('local', 'webhook')),
    status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    created_at    TEXT    NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    size_bytes    INTEGER NOT NULL DEFAULT 0,
    sha256        TEXT    NOT NULL DEFAULT '',
    error         TEXT    NOT NULL DEFAULT '',
    archive       TEXT    NOT NULL DEFAULT '',
    webhook_id    TEXT UNIQUE,
    sender_ip     TEXT    NOT NULL DEFAULT '',
    received_at   TEXT,
    message       TEXT    NOT NULL DEFAULT '',
    raw           BLOB,
    verified_at   TEXT,
    verify_status TEXT    NOT NULL DEFAULT '',
    verify_error  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX backups_source_id ON backups (source, id);
CREATE INDEX backups_status_id ON backups (status, id);

-- Events: the append-only outbox. Every user-visible change to a backup is
-- written here in the same transaction as the change. Rows are never updated
-- or deleted, and SQLite serialises writers, so the INTEGER PRIMARY KEY is a
-- gap-free global sequence that readers can tail by id.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    type      TEXT    NOT NULL,
    backup_id INTEGER,
    source    TEXT    NOT NULL DEFAULT '',
    time      TEXT    NOT NULL,
    data      TEXT    NOT NULL DEFAULT '{}'
);
