"""The workspace's history: every run, its inputs and its full outputs, in SQLite.

The database is ``WORKSPACE/.merit/history.db``, an SQLite file (the Python
standard library's ``sqlite3``; WAL journal, ``synchronous=FULL``).  SQLite
was chosen over DuckDB for this job because the history is a small,
transactional, append-mostly store: every write is one ACID transaction, so a
process killed in the middle leaves the database exactly as it was before
that transaction, and readers (``merit history``) never block on a writer.

What is stored (see docs/cycles.md):

* ``runs`` — one row per ``merit run``: when (UTC), by whom, host, cycle,
  ruleset ref/name/SHA-256, engine version, status (``draft`` or
  ``published``), the active adjustments, a digest of its outputs and a
  summary (agents, grades);
* ``run_inputs`` — every input file's name and SHA-256;
* ``run_files`` + ``blobs`` — every file the run wrote to ``out/``
  (content-addressed, zlib-compressed, stored once however many runs share it),
  so any run's ``out/`` can be restored byte for byte;
* ``run_scores`` — each agent's total, grade and ranks, for queries;
* ``adjustments`` — appeals and corrections (see :mod:`merit.cycles.adjustments`);
* ``events`` — an append-only audit log (run, publish, restore, adjust, revoke).

Immutability is enforced by the database itself: triggers refuse any change
to a published run (its row, inputs, files and scores), any change to a blob,
any deletion of an event or adjustment, and any change to an adjustment other
than its one-time revocation.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
import sqlite3
import zlib
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

from merit.core.errors import MeritError
from merit.core.lock import state_dir

DB_FILE = "history.db"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT NOT NULL,
    run_by          TEXT NOT NULL,
    host            TEXT,
    cycle_name      TEXT NOT NULL,
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    ruleset_ref     TEXT NOT NULL,
    ruleset_name    TEXT NOT NULL,
    ruleset_sha256  TEXT NOT NULL,
    engine_version  TEXT NOT NULL,
    adjustments     TEXT NOT NULL,          -- JSON list of the active adjustment ids
    outputs_sha256  TEXT NOT NULL,          -- digest over (path, sha256) of every out/ file
    summary         TEXT NOT NULL,          -- JSON: agents, graded, grades
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    published_at    TEXT,
    published_by    TEXT
);
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id      INTEGER NOT NULL REFERENCES runs(run_id),
    table_name  TEXT NOT NULL,
    file        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    rows_in_period INTEGER,
    PRIMARY KEY (run_id, table_name)
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256  TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    data    BLOB NOT NULL                   -- zlib-compressed content
);
CREATE TABLE IF NOT EXISTS run_files (
    run_id  INTEGER NOT NULL REFERENCES runs(run_id),
    path    TEXT NOT NULL,                  -- relative to out/, '/'-separated
    sha256  TEXT NOT NULL REFERENCES blobs(sha256),
    size    INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);
CREATE TABLE IF NOT EXISTS run_scores (
    run_id    INTEGER NOT NULL REFERENCES runs(run_id),
    agent_id  TEXT NOT NULL,
    name      TEXT,
    team      TEXT,
    level     TEXT,
    total     REAL,
    grade     TEXT,
    rank      INTEGER,
    team_rank INTEGER,
    PRIMARY KEY (run_id, agent_id)
);
CREATE TABLE IF NOT EXISTS adjustments (
    adj_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    table_name    TEXT NOT NULL,            -- tickets | grades
    key1          TEXT NOT NULL,            -- ticket_id | item_id
    key2          TEXT,                     -- grades: panelist
    field         TEXT NOT NULL,
    before        TEXT,                     -- the source value (NULL: empty)
    after         TEXT,                     -- the corrected value (NULL: empty)
    revoked_at    TEXT,
    revoked_by    TEXT,
    revoke_reason TEXT
);
CREATE TABLE IF NOT EXISTS events (
    event_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    by        TEXT NOT NULL,
    kind      TEXT NOT NULL,                -- run | publish | restore | adjust | revoke
    run_id    INTEGER,
    adj_id    INTEGER,
    detail    TEXT
);

CREATE TRIGGER IF NOT EXISTS published_run_update BEFORE UPDATE ON runs
WHEN OLD.status = 'published'
BEGIN SELECT RAISE(ABORT, 'run is published: it cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS published_run_delete BEFORE DELETE ON runs
WHEN OLD.status = 'published'
BEGIN SELECT RAISE(ABORT, 'run is published: it cannot be deleted'); END;
"""

# The same guard on every child table of runs.
for _child in ("run_inputs", "run_files", "run_scores"):
    SCHEMA += f"""
CREATE TRIGGER IF NOT EXISTS published_{_child}_insert BEFORE INSERT ON {_child}
WHEN (SELECT status FROM runs WHERE run_id = NEW.run_id) = 'published'
BEGIN SELECT RAISE(ABORT, 'run is published: it cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS published_{_child}_update BEFORE UPDATE ON {_child}
WHEN (SELECT status FROM runs WHERE run_id = OLD.run_id) = 'published'
BEGIN SELECT RAISE(ABORT, 'run is published: it cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS published_{_child}_delete BEFORE DELETE ON {_child}
WHEN (SELECT status FROM runs WHERE run_id = OLD.run_id) = 'published'
BEGIN SELECT RAISE(ABORT, 'run is published: it cannot be changed'); END;
"""
SCHEMA += """
CREATE TRIGGER IF NOT EXISTS blob_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'stored outputs are immutable'); END;
CREATE TRIGGER IF NOT EXISTS blob_delete BEFORE DELETE ON blobs
WHEN EXISTS (SELECT 1 FROM run_files f JOIN runs r USING (run_id)
             WHERE f.sha256 = OLD.sha256 AND r.status = 'published')
BEGIN SELECT RAISE(ABORT, 'stored outputs of a published run are immutable'); END;
CREATE TRIGGER IF NOT EXISTS event_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS event_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS adjustment_delete BEFORE DELETE ON adjustments
BEGIN SELECT RAISE(ABORT, 'adjustments are never deleted: revoke them'); END;
CREATE TRIGGER IF NOT EXISTS adjustment_update BEFORE UPDATE ON adjustments
WHEN OLD.revoked_at IS NOT NULL
  OR NEW.adj_id IS NOT OLD.adj_id OR NEW.created_at IS NOT OLD.created_at
  OR NEW.created_by IS NOT OLD.created_by OR NEW.reason IS NOT OLD.reason
  OR NEW.table_name IS NOT OLD.table_name OR NEW.key1 IS NOT OLD.key1 OR NEW.key2 IS NOT OLD.key2
  OR NEW.field IS NOT OLD.field OR NEW.before IS NOT OLD.before OR NEW.after IS NOT OLD.after
BEGIN SELECT RAISE(ABORT, 'an adjustment can only be revoked, once'); END;
"""


class HistoryError(MeritError):
    """A history request that cannot be served (unknown run, nothing to publish, ...)."""


# ------------------------------------------------------------------ helpers
def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def default_user(by: str | None = None) -> str:
    """Who is acting: *by*, else $MERIT_USER, else $USER, else the login name."""
    for value in (by, os.environ.get("MERIT_USER"), os.environ.get("USER")):
        if value and value.strip():
            return value.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # pragma: no cover - no passwd entry (KeyError before 3.13), no pwd
        return "unknown"


def db_path(root: Path | str) -> Path:
    return state_dir(Path(root)) / DB_FILE


def exists(root: Path | str) -> bool:
    return db_path(root).is_file()


def connect(root: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating when writable) the workspace's history database."""
    path = db_path(root)
    if readonly:
        if not path.is_file():
            raise HistoryError("this workspace has no history yet (run `merit run` first)", file=str(path))
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA foreign_keys=ON")
    if not readonly and not _has_schema(con):
        with transaction(con):
            for statement in _statements(SCHEMA):
                con.execute(statement)
            con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))
    return con


def _has_schema(con: sqlite3.Connection) -> bool:
    if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return False
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row is not None and row[0] == str(SCHEMA_VERSION)


def _statements(script: str) -> Iterator[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN … END)."""
    buf: list[str] = []
    for line in script.splitlines():
        if not line.strip() or line.strip().startswith("--") and not buf:
            continue
        buf.append(line)
        text = "\n".join(buf)
        if sqlite3.complete_statement(text):
            yield text
            buf = []


@contextmanager
def transaction(con: sqlite3.Connection):
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on any error, including KeyboardInterrupt)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def opened(root: Path | str, *, readonly: bool = False):
    with closing(connect(root, readonly=readonly)) as con:
        yield con


def add_event(con: sqlite3.Connection, kind: str, by: str, *, run_id: int | None = None,
              adj_id: int | None = None, detail: dict | None = None, at: str | None = None) -> None:
    con.execute("INSERT INTO events(at, by, kind, run_id, adj_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (at or now_utc(), by, kind, run_id, adj_id,
                 json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None))


def outputs_digest(files: dict[str, str]) -> str:
    """One SHA-256 over every (path, file SHA-256) pair, in path order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\0{files[path]}\n".encode())
    return digest.hexdigest()


def _out_files(out_dir: Path) -> list[tuple[str, Path]]:
    return sorted((p.relative_to(out_dir).as_posix(), p) for p in Path(out_dir).rglob("*") if p.is_file())


def folder_digest(out_dir: Path) -> str | None:
    """The outputs digest of a folder as it is on disk now (None when it does not exist)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    files = {}
    for rel, path in _out_files(out_dir):
        files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return outputs_digest(files)


# ------------------------------------------------------------------ recording
def _input_identity(info: dict) -> tuple[str, str]:
    """An input of the manifest as run_inputs keeps it: a file and its sha256, or a table of the
    engine ('table:NAME') or a location the cluster read (s3a://…) and its row count and checksum."""
    if "file" in info:
        return info["file"], info["sha256"]
    where = info["location"] if "location" in info else f"table:{info['table']}"
    return where, f"rows:{info['rows']};{info['checksum']}"


def record_run(root: Path | str, *, out_dir: Path, manifest: dict, ruleset_ref: str, by: str,
               started_at: str, adjustments: list[int], scores=None) -> int:
    """Store one finished run (its out/ files, inputs and scores) in one transaction."""
    staged: list[tuple[str, str, int, bytes | None]] = []
    for rel, path in _out_files(Path(out_dir)):
        data = path.read_bytes()
        staged.append((rel, hashlib.sha256(data).hexdigest(), len(data), data))
    digest = outputs_digest({rel: sha for rel, sha, _, _ in staged})
    summary: dict = {}
    score_rows = []
    if scores is not None:
        t = scores.table
        grades = t["grade"].fillna("").astype(str)
        summary = {
            "agents": int(len(t)),
            "graded": int((grades != "").sum()),
            "grades": {g: int(c) for g, c in sorted(grades[grades != ""].value_counts().items())},
        }
        import pandas as pd

        def opt(v, kind):
            return None if pd.isna(v) else kind(v)
        for row in t[["agent_id", "name", "team", "level", "total", "grade", "rank", "team_rank"]].itertuples(
                index=False):
            score_rows.append((str(row.agent_id), str(row.name), str(row.team), str(row.level),
                               opt(row.total, float), row.grade or None, opt(row.rank, int),
                               opt(row.team_rank, int)))
    cycle = manifest["cycle"]
    finished = now_utc()
    with opened(root) as con, transaction(con):
        known = {r[0] for r in con.execute(
            f"SELECT sha256 FROM blobs WHERE sha256 IN ({','.join('?' * len(staged))})",
            [s for _, s, _, _ in staged]).fetchall()} if staged else set()
        cur = con.execute(
            "INSERT INTO runs(started_at, finished_at, run_by, host, cycle_name, period_start, period_end, "
            "ruleset_ref, ruleset_name, ruleset_sha256, engine_version, adjustments, outputs_sha256, summary) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (started_at, finished, by, socket.gethostname(), cycle["name"], cycle["period"]["start"],
             cycle["period"]["end"], ruleset_ref, manifest["ruleset"]["name"], manifest["ruleset"]["sha256"],
             manifest["engine"]["version"], json.dumps(adjustments), digest,
             json.dumps(summary, ensure_ascii=False, sort_keys=True)))
        run_id = int(cur.lastrowid)
        for name, info in sorted(manifest.get("inputs", {}).items()):
            con.execute("INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?)",
                        (run_id, name, *_input_identity(info), info.get("rows_in_period")))
        for rel, sha, size, data in staged:
            if sha not in known:
                con.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?)", (sha, size, zlib.compress(data, 1)))
                known.add(sha)
            con.execute("INSERT INTO run_files VALUES (?, ?, ?, ?)", (run_id, rel, sha, size))
        con.executemany("INSERT INTO run_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(run_id, *row) for row in score_rows])
        add_event(con, "run", by, run_id=run_id, at=finished,
                  detail={"outputs_sha256": digest, "adjustments": adjustments})
    return run_id


# ------------------------------------------------------------------ reading
def _run_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["adjustments"] = json.loads(d["adjustments"])
    d["summary"] = json.loads(d["summary"])
    return d


def list_runs(root: Path | str) -> list[dict]:
    if not exists(root):
        return []
    with opened(root, readonly=True) as con:
        return [_run_dict(r) for r in con.execute("SELECT * FROM runs ORDER BY run_id")]


def get_run(root: Path | str, run_id: int, *, con: sqlite3.Connection | None = None) -> dict:
    if con is None:
        with opened(root, readonly=True) as c:
            return get_run(root, run_id, con=c)
    row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id")]
        raise HistoryError(f"no run {run_id} in this workspace's history",
                           expected=f"one of {', '.join(map(str, known))}" if known else "run `merit run` first")
    run = _run_dict(row)
    run["inputs"] = [dict(r) for r in con.execute(
        "SELECT table_name, file, sha256, rows_in_period FROM run_inputs WHERE run_id = ? ORDER BY table_name",
        (run_id,))]
    run["files"] = [dict(r) for r in con.execute(
        "SELECT path, sha256, size FROM run_files WHERE run_id = ? ORDER BY path", (run_id,))]
    return run


def read_file(con: sqlite3.Connection, run_id: int, path: str) -> bytes:
    row = con.execute("SELECT b.data, b.sha256 FROM run_files f JOIN blobs b USING (sha256) "
                      "WHERE f.run_id = ? AND f.path = ?", (run_id, path)).fetchone()
    if row is None:
        raise HistoryError(f"run {run_id} has no file {path}")
    data = zlib.decompress(row["data"])
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise HistoryError(f"stored file {path} of run {run_id} is damaged (SHA-256 mismatch)")
    return data


def latest_run_id(con: sqlite3.Connection, status: str | None = None) -> int | None:
    if status:
        row = con.execute("SELECT max(run_id) FROM runs WHERE status = ?", (status,)).fetchone()
    else:
        row = con.execute("SELECT max(run_id) FROM runs").fetchone()
    return row[0]


def published_results(root: Path | str) -> tuple[int, bytes] | None:
    """The results.json of the latest published run, or None (no database, nothing published)."""
    if not exists(root):
        return None
    with opened(root, readonly=True) as con:
        run_id = latest_run_id(con, "published")
        if run_id is None:
            return None
        return run_id, read_file(con, run_id, "results.json")


def events(root: Path | str) -> list[dict]:
    if not exists(root):
        return []
    with opened(root, readonly=True) as con:
        return [dict(r) for r in con.execute("SELECT * FROM events ORDER BY event_id")]


# ------------------------------------------------------------------ lifecycle
def publish(root: Path | str, *, by: str, run_id: int | None = None) -> tuple[dict, bool]:
    """Freeze a run (default: the latest). Returns (run, newly_published)."""
    if not exists(root):
        raise HistoryError("nothing to publish: this workspace has no recorded run (run `merit run` first)")
    with opened(root) as con, transaction(con):
        latest = latest_run_id(con)
        if latest is None:
            raise HistoryError("nothing to publish: this workspace has no recorded run (run `merit run` first)")
        target = latest if run_id is None else run_id
        run = get_run(root, target, con=con)
        if run["status"] == "published":
            return run, False
        at = now_utc()
        con.execute("UPDATE runs SET status = 'published', published_at = ?, published_by = ? WHERE run_id = ?",
                    (at, by, target))
        add_event(con, "publish", by, run_id=target, at=at, detail={"outputs_sha256": run["outputs_sha256"]})
        run = get_run(root, target, con=con)
    return run, True


def restore(root: Path | str, run_id: int, *, by: str, out_dir: Path) -> dict:
    """Write run *run_id*'s outputs back into *out_dir*, atomically (call with the workspace lock held)."""
    from merit.core.files import staged_folder

    with opened(root) as con:
        run = get_run(root, run_id, con=con)
        with staged_folder(out_dir) as stage:
            for f in run["files"]:
                target = stage / f["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(read_file(con, run_id, f["path"]))
        with transaction(con):
            add_event(con, "restore", by, run_id=run_id, detail={"outputs_sha256": run["outputs_sha256"]})
    return run
