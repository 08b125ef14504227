-- Migration 1: the initial schema.
--
-- Every usage record is unique per (agent, dedup_key); the engine upserts with the
-- definition's keep rule. Records are never deleted when their source file goes away:
-- there is deliberately no foreign key from records to files.

CREATE TABLE records (
    agent          TEXT    NOT NULL,
    dedup_key      TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    -- Unix milliseconds, UTC.
    ts_ms          INTEGER NOT NULL,
    provider       TEXT,
    model          TEXT,
    project        TEXT,
    session_name   TEXT,
    input          INTEGER NOT NULL DEFAULT 0,
    output         INTEGER NOT NULL DEFAULT 0,
    cache_read     INTEGER NOT NULL DEFAULT 0,
    cache_write    INTEGER NOT NULL DEFAULT 0,
    cache_write_1h INTEGER NOT NULL DEFAULT 0,
    reasoning      INTEGER NOT NULL DEFAULT 0,
    -- Cost in USD as the agent recorded it; NULL when it recorded none.
    cost_reported  REAL,
    duration_ms    INTEGER,
    speed          TEXT,
    source_path    TEXT    NOT NULL,
    -- How many times a later duplicate replaced part of this row (0 = as first written).
    revisions      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent, dedup_key)
) STRICT;

-- Time-range reports and the dashboard's recent windows.
CREATE INDEX records_ts ON records (ts_ms);
-- Session views: all requests of one session in time order.
CREATE INDEX records_session ON records (session_id, ts_ms);

-- Per-file read positions, committed in the same transaction as the records read.
CREATE TABLE files (
    agent       TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    -- Stored as the two's-complement i64 of the u64 value.
    inode       INTEGER NOT NULL,
    read_offset INTEGER NOT NULL,
    -- Stored as the two's-complement i64 of the u64 value.
    head_hash   INTEGER NOT NULL,
    state       TEXT,
    cursor      TEXT,
    PRIMARY KEY (agent, path)
) STRICT, WITHOUT ROWID;
