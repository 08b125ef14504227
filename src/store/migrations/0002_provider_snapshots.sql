-- Migration 2: provider polls.
--
-- One row per poll of a configured provider: the usage it gave (as the JSON that
-- `ttop providers --json` prints, already redacted) or the error. Successful rows are
-- the limit history charts draw; the last row of a provider is what `ttop doctor` shows.

CREATE TABLE provider_snapshots (
    provider         TEXT    NOT NULL,
    -- Unix milliseconds, UTC.
    ts_ms            INTEGER NOT NULL,
    -- 1 when the poll worked.
    ok               INTEGER NOT NULL,
    plan             TEXT,
    -- The highest used percent of any limit.
    max_used_percent REAL,
    limit_reached    INTEGER NOT NULL DEFAULT 0,
    rate_limited     INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    data             TEXT    NOT NULL,
    PRIMARY KEY (provider, ts_ms)
) STRICT, WITHOUT ROWID;
