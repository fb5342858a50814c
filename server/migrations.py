"""The only place where the database's tables are defined; applied on every start, in order.

Each step is applied once, in a transaction with its record in ``_sqlite_migrations``; a new
step is appended, an old one is never edited.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("gocua")


def _run(db: sqlite_utils.Database, script: str) -> None:
    """Run a DDL script statement by statement: ``executescript`` would commit the migration's
    transaction first and leave a failed step half-applied."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        CREATE TABLE communes (
            id TEXT PRIMARY KEY,             -- 5-digit official commune code
            name TEXT NOT NULL,
            province_code TEXT NOT NULL,
            province_name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE villages (
            id TEXT PRIMARY KEY,
            commune_id TEXT NOT NULL REFERENCES communes(id),
            name TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE INDEX villages_commune ON villages(commune_id);
        CREATE TABLE households (
            id TEXT PRIMARY KEY,
            commune_id TEXT NOT NULL REFERENCES communes(id),
            village_id TEXT NOT NULL REFERENCES villages(id),
            code TEXT NOT NULL UNIQUE,       -- short printable code for labels and typing
            head_name TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX households_village ON households(village_id);
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            commune_id TEXT REFERENCES communes(id),
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'viewer', 'volunteer')),
            password_hash TEXT,
            union_name TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE TABLE user_villages (
            user_id INTEGER NOT NULL REFERENCES users(id),
            village_id TEXT NOT NULL REFERENCES villages(id),
            PRIMARY KEY (user_id, village_id)
        );
        CREATE TABLE enrollment_codes (
            code_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            device_id TEXT
        );
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT,
            revoked_at TEXT
        );
        CREATE TABLE forms (
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            title TEXT NOT NULL,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (form_id, version)
        );
        CREATE TABLE records (
            id TEXT PRIMARY KEY,
            rev TEXT NOT NULL,
            commune_id TEXT NOT NULL REFERENCES communes(id),
            village_id TEXT NOT NULL REFERENCES villages(id),
            household_id TEXT REFERENCES households(id),
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            data TEXT NOT NULL,
            meta TEXT NOT NULL,
            device_id TEXT REFERENCES devices(id),
            user_id INTEGER REFERENCES users(id),
            review_state TEXT NOT NULL DEFAULT 'received',
            received_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            FOREIGN KEY (form_id, form_version) REFERENCES forms(form_id, version)
        );
        CREATE INDEX records_village ON records(commune_id, village_id, received_at);
        CREATE INDEX records_device ON records(device_id);
        -- Every finalized version ever received, the current one included: nothing is lost.
        CREATE TABLE revisions (
            record_id TEXT NOT NULL,
            rev TEXT NOT NULL,
            base_rev TEXT,
            status TEXT NOT NULL CHECK (status IN ('current', 'superseded', 'conflict')),
            data TEXT NOT NULL,
            meta TEXT NOT NULL,
            device_id TEXT,
            user_id INTEGER,
            received_at TEXT NOT NULL,
            PRIMARY KEY (record_id, rev)
        );
        -- The pull feed: seq is assigned inside the write transaction that made the change.
        CREATE TABLE changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            commune_id TEXT,                 -- NULL: every commune (forms)
            village_id TEXT,                 -- NULL: the whole commune
            user_id INTEGER,                 -- set: only that volunteer (decisions on theirs)
            kind TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX changes_scope ON changes(commune_id, seq);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user_id INTEGER,
            username TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            ip TEXT NOT NULL DEFAULT ''
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """
    )


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply pending steps; returns their names (empty when the database is up to date)."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
