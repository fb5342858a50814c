"""The only place where the database's tables are defined; applied on every start, in order.

Each step is applied once, in a transaction with its record in ``_sqlite_migrations``; a new
step is appended, an old one is never edited.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils
from sqlite_utils.migrations import Migrations

from server.domain import answers

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
        """,
    )


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply pending steps; returns their names (empty when the database is up to date)."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending


@migrations()
def m002_reports(db: sqlite_utils.Database) -> None:
    # Indicator counts per record (report_facts) and their sums per village and month of visit
    # (report_totals), kept by server/reports/facts.py. Triggers queue every record that
    # changes in report_dirty, whoever changes it, so the reports never read stale counts.
    # A later step that rebuilds `records` (e.g. sqlite-utils transform) must re-create them.
    _run(
        db,
        """
        CREATE TABLE report_facts (
            record_id TEXT PRIMARY KEY,
            commune_id TEXT NOT NULL,
            village_id TEXT NOT NULL,
            household_key TEXT NOT NULL,     -- household id, or 'record:ID' when it has none
            user_id INTEGER,
            form_id TEXT NOT NULL,
            state TEXT NOT NULL,             -- the record's review_state
            visit_date TEXT NOT NULL,        -- YYYY-MM-DD
            surveyed INTEGER NOT NULL,       -- 1: counts for the indicators
            persons INTEGER NOT NULL,
            counts TEXT NOT NULL,            -- {"indicator": [numerator, denominator]}
            contrib TEXT NOT NULL DEFAULT '{}'  -- what it adds to report_totals now, by scope
        );
        CREATE INDEX report_facts_household ON report_facts(household_key);
        CREATE INDEX report_facts_commune ON report_facts(commune_id, user_id);
        CREATE TABLE report_totals (
            scope TEXT NOT NULL,             -- 'all' (not rejected) or 'approved'
            commune_id TEXT NOT NULL,
            village_id TEXT NOT NULL,
            month TEXT NOT NULL,             -- YYYY-MM of the visit
            key TEXT NOT NULL,               -- visited, surveyed, persons, n:ID, d:ID
            value INTEGER NOT NULL,
            PRIMARY KEY (scope, commune_id, village_id, month, key)
        ) WITHOUT ROWID;
        CREATE TABLE report_dirty (record_id TEXT PRIMARY KEY) WITHOUT ROWID;
        -- 'definitions': the fingerprint of the indicator files the facts were counted with.
        CREATE TABLE report_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TRIGGER records_report_insert AFTER INSERT ON records
            BEGIN INSERT OR IGNORE INTO report_dirty (record_id) VALUES (NEW.id); END;
        CREATE TRIGGER records_report_update AFTER UPDATE ON records
            BEGIN INSERT OR IGNORE INTO report_dirty (record_id) VALUES (NEW.id);
                  INSERT OR IGNORE INTO report_dirty (record_id) VALUES (OLD.id); END;
        CREATE TRIGGER records_report_delete AFTER DELETE ON records
            BEGIN INSERT OR IGNORE INTO report_dirty (record_id) VALUES (OLD.id); END;
        INSERT INTO report_dirty (record_id) SELECT id FROM records;
        """,
    )


# The facts the submissions list filters on, filled from a record's answers on every write by
# triggers, so that the push path needs no hook and the list never parses JSON to filter.
_RECORD_FACT_EXPRESSIONS = {
    "outcome": "json_extract(NEW.data, '$.outcome')",
    "needs_help": """(EXISTS (SELECT 1 FROM json_each(NEW.data, '$.members') m,
                                 json_each(m.value, '$.needs_help') h WHERE h.value <> 'none')
                  OR EXISTS (SELECT 1 FROM json_each(NEW.data, '$.support') s
                             WHERE json_extract(s.value, '$.support_result') = 'revisit'))""",
    "visit_date": """coalesce(json_extract(NEW.meta, '$.visit_date'),
                          substr(json_extract(NEW.meta, '$.started_at'), 1, 10),
                          substr(NEW.received_at, 1, 10))""",
}
_RECORD_FACTS = ",\n".join(f"{name} = {expr}" for name, expr in _RECORD_FACT_EXPRESSIONS.items())
# The same facts, read only from the objects of ``members`` and ``support`` (m020): an
# imported form may name another answer so (a select_multiple ``members``), whose texts are no
# JSON to read further, and SQLite's "malformed JSON" failed the whole push.
_GUARDED_FACT_EXPRESSIONS = {
    **_RECORD_FACT_EXPRESSIONS,
    "needs_help": """(EXISTS (SELECT 1 FROM json_each(NEW.data, '$.members') m,
                                 json_each(CASE WHEN m.type = 'object' THEN m.value END,
                                           '$.needs_help') h WHERE h.value <> 'none')
                  OR EXISTS (SELECT 1 FROM json_each(NEW.data, '$.support') s
                             WHERE json_extract(CASE WHEN s.type = 'object' THEN s.value END,
                                                '$.support_result') = 'revisit'))""",
}
# The same facts as columns of a SELECT over ``given``, a row of the answers' JSON text
# (``data``), the meta's (``meta``) and ``received_at``: an INSERT that brings its own facts
# (the push path) computes them with the very expressions the trigger uses.
RECORD_FACTS_OF = ", ".join(
    expr.replace("NEW.", "given.") for expr in _GUARDED_FACT_EXPRESSIONS.values()
)


@migrations()
def m003_review(db: sqlite_utils.Database) -> None:
    _run(
        db,
        f"""
        ALTER TABLE records ADD COLUMN outcome TEXT;
        ALTER TABLE records ADD COLUMN needs_help INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE records ADD COLUMN visit_date TEXT;
        CREATE TRIGGER records_facts_insert AFTER INSERT ON records
            BEGIN UPDATE records SET {_RECORD_FACTS} WHERE id = NEW.id; END;
        CREATE TRIGGER records_facts_update AFTER UPDATE OF data, meta ON records
            BEGIN UPDATE records SET {_RECORD_FACTS} WHERE id = NEW.id; END;
        UPDATE records SET data = data;
        -- Keyset paging, newest first, under each filter: (received_at, id) is the cursor.
        -- Each index also carries every other filter column, so that a combination of
        -- filters (and its count) is read from the index alone: the filter columns sit after
        -- the JSON in the table's rows, where each lookup would read the whole record.
        CREATE INDEX records_list ON records(commune_id, received_at, id,
            village_id, user_id, review_state, outcome, needs_help);
        CREATE INDEX records_list_village ON records(commune_id, village_id, received_at, id,
            user_id, review_state, outcome, needs_help);
        CREATE INDEX records_list_state ON records(commune_id, review_state, received_at, id,
            village_id, user_id, outcome, needs_help);
        CREATE INDEX records_list_user ON records(commune_id, user_id, received_at, id,
            village_id, review_state, outcome, needs_help);
        CREATE INDEX records_list_outcome ON records(commune_id, outcome, received_at, id,
            village_id, user_id, review_state, needs_help);
        CREATE INDEX records_list_help ON records(commune_id, needs_help, received_at, id,
            village_id, user_id, review_state, outcome);
        CREATE INDEX records_household ON records(household_id, visit_date);
        CREATE INDEX revisions_open_conflicts ON revisions(record_id) WHERE status = 'conflict';
        -- A conflict revision stays a conflict revision; these say how a reviewer settled it.
        ALTER TABLE revisions ADD COLUMN resolved_at TEXT;
        ALTER TABLE revisions ADD COLUMN resolved_by INTEGER;
        ALTER TABLE revisions ADD COLUMN resolution TEXT;
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            record_id TEXT NOT NULL REFERENCES records(id),
            rev TEXT NOT NULL,
            review_state TEXT NOT NULL CHECK (review_state IN
                ('received', 'has_issues', 'edited', 'approved', 'rejected')),
            comment TEXT NOT NULL DEFAULT '',
            user_id INTEGER REFERENCES users(id),
            username TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        );
        CREATE INDEX reviews_record ON reviews(record_id, id);
        -- Villages are versioned: a merged one stays (old records point at it) and names its
        -- survivor; every name a village has had is kept with the time it changed.
        ALTER TABLE villages ADD COLUMN merged_into TEXT REFERENCES villages(id);
        ALTER TABLE villages ADD COLUMN merged_at TEXT;
        CREATE TABLE village_names (
            id INTEGER PRIMARY KEY,
            village_id TEXT NOT NULL REFERENCES villages(id),
            name TEXT NOT NULL,
            valid_from TEXT NOT NULL,
            valid_to TEXT
        );
        CREATE INDEX village_names_village ON village_names(village_id, id);
        INSERT INTO village_names (village_id, name, valid_from)
            SELECT id, name, created_at FROM villages;
        -- Triggers, so that a village added or renamed by any part of the server has its history.
        CREATE TRIGGER villages_name_insert AFTER INSERT ON villages
            BEGIN INSERT INTO village_names (village_id, name, valid_from)
                  VALUES (NEW.id, NEW.name, NEW.created_at); END;
        CREATE TRIGGER villages_name_update AFTER UPDATE OF name ON villages
            WHEN OLD.name IS NOT NEW.name
            BEGIN UPDATE village_names SET valid_to = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                      WHERE village_id = NEW.id AND valid_to IS NULL;
                  INSERT INTO village_names (village_id, name, valid_from)
                  VALUES (NEW.id, NEW.name, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')); END;
        ALTER TABLE households ADD COLUMN removed_at TEXT;
        CREATE TABLE household_moves (
            id INTEGER PRIMARY KEY,
            household_id TEXT NOT NULL REFERENCES households(id),
            from_village TEXT NOT NULL,
            to_village TEXT NOT NULL,
            at TEXT NOT NULL
        );
        -- The follow-up last sent to phones per household: a change only when it changes.
        CREATE TABLE household_followups (
            household_id TEXT PRIMARY KEY REFERENCES households(id),
            followup TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- A CSV/XLSX file read and checked, waiting for the admin to confirm its import.
        CREATE TABLE household_imports (
            id INTEGER PRIMARY KEY,
            commune_id TEXT NOT NULL REFERENCES communes(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            filename TEXT NOT NULL,
            rows TEXT NOT NULL,
            created_at TEXT NOT NULL,
            applied_at TEXT
        );
        """,
    )


@migrations()
def m004_people(db: sqlite_utils.Database) -> None:
    # A province-level admin is an 'admin' row with no commune and a province_code: the role
    # CHECK of m001 stays as it is, because rebuilding `users` inside this transaction would trip
    # the foreign keys of every table that points at it.
    _run(
        db,
        """
        ALTER TABLE users ADD COLUMN province_code TEXT;
        -- Bumped on a password change or reset: every session signed with an older value ends.
        ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
        -- Set by an admin's reset: the next login must choose a new password first.
        ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX users_commune ON users(commune_id, role);
        -- What the phone said in its last report (POST /api/v1/device/report).
        ALTER TABLE devices ADD COLUMN reported_unsynced INTEGER;
        ALTER TABLE devices ADD COLUMN reported_at TEXT;
        ALTER TABLE devices ADD COLUMN app_version TEXT NOT NULL DEFAULT '';
        CREATE INDEX devices_user ON devices(user_id);
        CREATE INDEX enrollment_codes_user ON enrollment_codes(user_id);
        -- Failed logins are counted per username and per address over the last minutes.
        CREATE INDEX audit_log_username ON audit_log(username, action, at);
        CREATE INDEX audit_log_ip ON audit_log(ip, action, at);
        CREATE INDEX audit_log_target ON audit_log(target, action);
        """,
    )


@migrations()
def m005_sync(db: sqlite_utils.Database) -> None:
    """Sync: revisions keep their whole envelope, an outbox orders everything a commune server
    sends up to its province, and both sides keep the replication checkpoint."""
    _run(
        db,
        """
        -- This installation's id: a province keeps one checkpoint per source server.
        CREATE TABLE sync_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            server_id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO sync_identity (id, server_id, created_at)
            VALUES (1, lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        -- A conflict revision may name another form version, household or village than the
        -- record's current one; NULL means the same as the record (rows from before m002).
        ALTER TABLE revisions ADD COLUMN form_id TEXT;
        ALTER TABLE revisions ADD COLUMN form_version TEXT;
        ALTER TABLE revisions ADD COLUMN village_id TEXT;
        ALTER TABLE revisions ADD COLUMN household_id TEXT;
        -- /sync/status digests one device's revisions on every sync. (device_id) alone: its
        -- entries append in rowid order, where (device_id, record_id, ...) would insert at
        -- random UUID positions and cost a fifth of a push.
        CREATE INDEX revisions_device ON revisions(device_id);
        -- Province side: commune servers allowed to push one commune's records.
        CREATE TABLE peers (
            id TEXT PRIMARY KEY,
            commune_id TEXT NOT NULL,        -- the commune row itself arrives with the first push
            label TEXT NOT NULL DEFAULT '',
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT,
            revoked_at TEXT
        );
        CREATE TABLE peer_checkpoints (
            peer_id TEXT NOT NULL REFERENCES peers(id),
            source_id TEXT NOT NULL,
            checkpoint INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (peer_id, source_id)
        );
        -- Commune side: how far each upstream has acknowledged, and what it refused.
        CREATE TABLE upstream_checkpoints (
            url TEXT PRIMARY KEY,
            commune_id TEXT NOT NULL,
            checkpoint INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE upstream_rejects (
            url TEXT NOT NULL,
            record_id TEXT NOT NULL,
            rev TEXT NOT NULL,
            errors TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (url, record_id, rev)
        );
        -- Everything an upstream must learn of, in commit order (seq is assigned inside the
        -- writing transaction, as in changes). Filled by triggers, so that every writer --
        -- push, staff edits, imports, merges -- is replicated without knowing about it.
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,              -- form, commune, village, household, revision,
                                             -- revision_data, record
            entity_id TEXT NOT NULL,
            rev TEXT,
            commune_id TEXT
        );
        CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
            BEGIN SELECT RAISE(ABORT, 'the outbox is append-only: checkpoints point into it'); END;
        CREATE TRIGGER outbox_form AFTER INSERT ON forms BEGIN
            INSERT INTO outbox (kind, entity_id) VALUES ('form', NEW.form_id || '@' || NEW.version);
        END;
        CREATE TRIGGER outbox_commune_insert AFTER INSERT ON communes BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id) VALUES ('commune', NEW.id, NEW.id);
        END;
        CREATE TRIGGER outbox_commune_update AFTER UPDATE ON communes BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id) VALUES ('commune', NEW.id, NEW.id);
        END;
        CREATE TRIGGER outbox_village_insert AFTER INSERT ON villages BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('village', NEW.id, NEW.commune_id);
        END;
        CREATE TRIGGER outbox_village_update AFTER UPDATE ON villages BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('village', NEW.id, NEW.commune_id);
        END;
        CREATE TRIGGER outbox_village_delete AFTER DELETE ON villages BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('village', OLD.id, OLD.commune_id);
        END;
        CREATE TRIGGER outbox_household_insert AFTER INSERT ON households BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('household', NEW.id, NEW.commune_id);
        END;
        CREATE TRIGGER outbox_household_update AFTER UPDATE ON households BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('household', NEW.id, NEW.commune_id);
        END;
        CREATE TRIGGER outbox_household_delete AFTER DELETE ON households BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('household', OLD.id, OLD.commune_id);
        END;
        CREATE TRIGGER outbox_revision AFTER INSERT ON revisions BEGIN
            INSERT INTO outbox (kind, entity_id, rev, commune_id) VALUES ('revision',
                NEW.record_id, NEW.rev, (SELECT commune_id FROM records WHERE id = NEW.record_id));
        END;
        -- A revision's answers change in place only when a person's data is erased: the
        -- erasure must reach the upstream too.
        CREATE TRIGGER outbox_revision_data AFTER UPDATE OF data ON revisions
            WHEN OLD.data IS NOT NEW.data BEGIN
            INSERT INTO outbox (kind, entity_id, rev, commune_id) VALUES ('revision_data',
                NEW.record_id, NEW.rev, (SELECT commune_id FROM records WHERE id = NEW.record_id));
        END;
        CREATE TRIGGER outbox_record AFTER UPDATE OF rev, review_state ON records
            WHEN OLD.rev IS NOT NEW.rev OR OLD.review_state IS NOT NEW.review_state BEGIN
            INSERT INTO outbox (kind, entity_id, rev, commune_id)
                VALUES ('record', NEW.id, NEW.rev, NEW.commune_id);
        END;
        -- What existed before this step, in an order an upstream can apply.
        INSERT INTO outbox (kind, entity_id)
            SELECT 'form', form_id || '@' || version FROM forms ORDER BY created_at, rowid;
        INSERT INTO outbox (kind, entity_id, commune_id)
            SELECT 'commune', id, id FROM communes ORDER BY rowid;
        INSERT INTO outbox (kind, entity_id, commune_id)
            SELECT 'village', id, commune_id FROM villages ORDER BY rowid;
        INSERT INTO outbox (kind, entity_id, commune_id)
            SELECT 'household', id, commune_id FROM households ORDER BY rowid;
        INSERT INTO outbox (kind, entity_id, rev, commune_id)
            SELECT 'revision', v.record_id, v.rev, r.commune_id FROM revisions v
            JOIN records r ON r.id = v.record_id ORDER BY v.rowid;
        INSERT INTO outbox (kind, entity_id, rev, commune_id)
            SELECT 'record', id, rev, commune_id FROM records WHERE review_state != 'received';
        """,
    )


@migrations()
def m006_form_scope(db: sqlite_utils.Database) -> None:
    # A form version is shared (every commune's phones receive it: the CLI, the default survey)
    # or belongs to the communes listed in form_communes (a commune server's push brought it).
    # The versions already here stay shared: who installed them is not known.
    _run(
        db,
        """
        ALTER TABLE forms ADD COLUMN shared INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE form_communes (
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            commune_id TEXT NOT NULL,
            PRIMARY KEY (form_id, version, commune_id),
            FOREIGN KEY (form_id, version) REFERENCES forms(form_id, version)
        );
        """,
    )


@migrations()
def m007_blob_owners(db: sqlite_utils.Database) -> None:
    """Which commune holds which blob: the store on disk is shared, but HEAD /blobs/<hash> and
    a record naming a photo answer only for the communes that uploaded it or whose records
    name it. Existing blobs go to the communes whose records (any revision) name them; one
    uploaded but not yet named is uploaded again by its phone, which costs only the bytes."""
    _run(
        db,
        """
        CREATE TABLE blob_owners (
            commune_id TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (commune_id, sha256)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO blob_owners (commune_id, sha256, created_at)
            SELECT DISTINCT r.commune_id, j.value, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
            FROM revisions v JOIN records r ON r.id = v.record_id, json_tree(v.data) j
            WHERE j.type = 'text' AND length(j.value) = 64
              AND j.value NOT GLOB '*[^0-9a-f]*';
        """,
    )


@migrations()
def m008_conflict_resolutions(db: sqlite_utils.Database) -> None:
    """A settled conflict travels: to the province (an outbox entry, whoever settles it), and
    to the phones of both volunteers involved. Conflicts settled before this step told no
    phone when the current version was kept, so the phone whose revision lost showed a
    conflict for ever: each such phone hears of it now, as the domain tells it from now on
    (``store.tell_resolution``), and the province receives every past resolution."""
    _run(
        db,
        """
        CREATE TRIGGER outbox_resolution AFTER UPDATE OF resolved_at ON revisions
            WHEN NEW.resolved_at IS NOT NULL AND OLD.resolved_at IS NOT NEW.resolved_at BEGIN
            INSERT INTO outbox (kind, entity_id, rev, commune_id) VALUES ('resolution',
                NEW.record_id, NEW.rev, (SELECT commune_id FROM records WHERE id = NEW.record_id));
        END;
        INSERT INTO outbox (kind, entity_id, rev, commune_id)
            SELECT 'resolution', v.record_id, v.rev, r.commune_id FROM revisions v
            JOIN records r ON r.id = v.record_id
            WHERE v.status = 'conflict' AND v.resolved_at IS NOT NULL
            ORDER BY v.resolved_at, v.rowid;
        INSERT INTO changes (commune_id, village_id, user_id, kind, entity_id, op, payload,
                             created_at)
            SELECT r.commune_id, r.village_id, t.user_id, 'review', r.id, 'put',
                json_object('record_id', r.id, 'rev', r.rev, 'review_state', r.review_state,
                    'comment', '', 'by', coalesce(s.display_name, ''), 'at', v.resolved_at,
                    'data', json(r.data),
                    'resolved', json_object('rev', v.rev, 'resolution', v.resolution)),
                strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
            FROM (SELECT v.rowid AS revision, r.user_id FROM revisions v
                    JOIN records r ON r.id = v.record_id
                    WHERE v.status = 'conflict' AND v.resolved_at IS NOT NULL
                  UNION
                  SELECT rowid, user_id FROM revisions
                    WHERE status = 'conflict' AND resolved_at IS NOT NULL) t
            JOIN revisions v ON v.rowid = t.revision
            JOIN records r ON r.id = v.record_id
            LEFT JOIN users s ON s.id = v.resolved_by
            WHERE t.user_id IS NOT NULL
            ORDER BY v.resolved_at, v.rowid, t.user_id;
        """,
    )


_RECORD_FACTS_PACKED = _RECORD_FACTS.replace("NEW.data", "answers(NEW.data)")


@migrations()
def m009_packed_answers(db: sqlite_utils.Database) -> None:
    """A record's answers are stored deflated (``server.domain.answers``): a row of ``records``
    or ``revisions`` then takes a few hundred bytes instead of a 4 KB page of its own. Every
    row is converted in place; the triggers that read answers read them through ``answers()``.

    The conversion changes no answer, so nothing that follows a change of answers hears of
    it: the triggers that queue a record's indicator recount and tell the upstream of an
    erased revision are set aside while the rows are rewritten, and put back as they were.

    Three of the records' indexes go: ``records_village`` (``records_list_village`` begins
    with the same columns), and the outcome's and the "needs help" filter's own list indexes:
    a column of a few common values narrows the list little, and ``records_list`` carries
    both columns, so those filters read that index alone, newest first, as the others do."""
    # The JSON text is packed as it is, byte for byte: every revision reads back identical.
    db.conn.create_function("pack_answers", 1, answers.pack, deterministic=True)
    _run(
        db,
        f"""
        DROP TRIGGER records_facts_insert;
        DROP TRIGGER records_facts_update;
        DROP TRIGGER records_report_update;
        DROP TRIGGER outbox_revision_data;
        UPDATE records SET data = pack_answers(data) WHERE typeof(data) = 'text';
        UPDATE revisions SET data = pack_answers(data) WHERE typeof(data) = 'text';
        CREATE TRIGGER records_facts_insert AFTER INSERT ON records
            BEGIN UPDATE records SET {_RECORD_FACTS_PACKED} WHERE id = NEW.id; END;
        CREATE TRIGGER records_facts_update AFTER UPDATE OF data, meta ON records
            BEGIN UPDATE records SET {_RECORD_FACTS_PACKED} WHERE id = NEW.id; END;
        CREATE TRIGGER records_report_update AFTER UPDATE ON records
            BEGIN INSERT OR IGNORE INTO report_dirty (record_id) VALUES (NEW.id);
                  INSERT OR IGNORE INTO report_dirty (record_id) VALUES (OLD.id); END;
        CREATE TRIGGER outbox_revision_data AFTER UPDATE OF data ON revisions
            WHEN OLD.data IS NOT NEW.data BEGIN
            INSERT INTO outbox (kind, entity_id, rev, commune_id) VALUES ('revision_data',
                NEW.record_id, NEW.rev, (SELECT commune_id FROM records WHERE id = NEW.record_id));
        END;
        DROP INDEX records_village;
        DROP INDEX records_list_outcome;
        DROP INDEX records_list_help;
        """,
    )
    _run(db, _M009_REPORTS)


# The reports read kept sums only (server/domain/reports/facts.py): what each record adds is a
# few bits (roles) beside the counts it was counted with, instead of a copy of them in JSON;
# the records by review state are sums of report_totals (scope 'states'), each volunteer's
# visits per village and day are kept in report_volunteers, and the households on the register
# per village in register_counts (kept by triggers, whoever changes the register). Each is
# filled here from what is already counted.
_ROLE_BITS = " | ".join(
    f"((json_extract(contrib, '$.{scope}.{role}') IS NOT NULL) << {shift})"
    for shift, (scope, role) in enumerate(
        [("all", "visited"), ("all", "surveyed"), ("approved", "visited"), ("approved", "surveyed")]
    )
)
_VOLUNTEER_SUMS = " UNION ALL ".join(
    f"SELECT '{scope}', commune_id, village_id, coalesce(user_id, 0), visit_date, '{key}',"
    f" {value} FROM report_facts WHERE {where} GROUP BY 2, 3, 4, 5 HAVING {value} != 0"
    for scope, where in (("all", "state != 'rejected'"), ("approved", "state = 'approved'"))
    for key, value in (
        ("visits", "count(*)"),
        ("surveyed", "sum(surveyed)"),
        ("persons", "sum(persons * surveyed)"),
        ("approved", "sum(state = 'approved')"),
        ("has_issues", "sum(state = 'has_issues')"),
    )
)
_M009_REPORTS = f"""
    ALTER TABLE report_facts ADD COLUMN roles INTEGER NOT NULL DEFAULT 0;
    UPDATE report_facts SET roles = {_ROLE_BITS} WHERE contrib != '{{}}';
    ALTER TABLE report_facts DROP COLUMN contrib;
    DROP INDEX report_facts_commune;
    INSERT INTO report_totals (scope, commune_id, village_id, month, key, value)
        SELECT 'states', commune_id, village_id, substr(visit_date, 1, 7), state, count(*)
        FROM report_facts GROUP BY 2, 3, 4, 5;
    CREATE TABLE report_volunteers (
        scope TEXT NOT NULL,             -- 'all' (not rejected) or 'approved'
        commune_id TEXT NOT NULL,
        village_id TEXT NOT NULL,
        user_id INTEGER NOT NULL,        -- 0: a record no volunteer of this server sent
        day TEXT NOT NULL,               -- YYYY-MM-DD of the visit
        key TEXT NOT NULL,               -- visits, surveyed, persons, approved, has_issues
        value INTEGER NOT NULL,
        PRIMARY KEY (scope, commune_id, village_id, user_id, day, key)
    ) WITHOUT ROWID;
    INSERT INTO report_volunteers (scope, commune_id, village_id, user_id, day, key, value)
        {_VOLUNTEER_SUMS};
    INSERT INTO report_state (key, value)
        SELECT 'counted_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
        WHERE NOT EXISTS (SELECT 1 FROM report_dirty);
    CREATE TABLE register_counts (
        village_id TEXT PRIMARY KEY,
        listed INTEGER NOT NULL          -- households on the register (not removed)
    ) WITHOUT ROWID;
    INSERT INTO register_counts (village_id, listed)
        SELECT village_id, count(*) FROM households WHERE removed_at IS NULL GROUP BY 1;
    CREATE TRIGGER register_counts_insert AFTER INSERT ON households
        WHEN NEW.removed_at IS NULL BEGIN
        INSERT INTO register_counts (village_id, listed) VALUES (NEW.village_id, 1)
            ON CONFLICT (village_id) DO UPDATE SET listed = listed + 1;
    END;
    CREATE TRIGGER register_counts_update AFTER UPDATE OF village_id, removed_at ON households
        BEGIN
        UPDATE register_counts SET listed = listed - 1
            WHERE village_id = OLD.village_id AND OLD.removed_at IS NULL;
        INSERT INTO register_counts (village_id, listed)
            SELECT NEW.village_id, 1 WHERE NEW.removed_at IS NULL
            ON CONFLICT (village_id) DO UPDATE SET listed = listed + 1;
    END;
    CREATE TRIGGER register_counts_delete AFTER DELETE ON households
        WHEN OLD.removed_at IS NULL BEGIN
        UPDATE register_counts SET listed = listed - 1 WHERE village_id = OLD.village_id;
    END;
"""


@migrations()
def m010_form_use(db: sqlite_utils.Database) -> None:
    """Forms managed from the browser. ``form_states``: per commune, whether its volunteers get
    a form for new visits (``active``, the default when there is no row), not (``off``), or it
    is retired (``archived``); records of every state stay. ``devices.reported_forms``: the
    form versions a phone last said it holds (a JSON list of ``form_id@version``), so the admin
    sees which phones have a new version."""
    _run(
        db,
        """
        CREATE TABLE form_states (
            commune_id TEXT NOT NULL,
            form_id TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('active', 'off', 'archived')),
            changed_at TEXT NOT NULL,
            PRIMARY KEY (commune_id, form_id)
        ) WITHOUT ROWID;
        ALTER TABLE devices ADD COLUMN reported_forms TEXT;
        """,
    )


@migrations()
def m011_openrosa(db: sqlite_utils.Database) -> None:
    """ODK Collect phones and what they send. A Collect phone is a device like the collector's
    (revoked alike, scoped to its volunteer's villages) whose token travels in the URL, as ODK
    Central's app users' do: ``client`` tells the two apart. Each OpenRosa submission keeps its
    XML until it is a record, and after: Collect may send it in several parts, a rejected one
    cannot be edited on the phone, and one naming no household waits for the office."""
    _run(
        db,
        """
        ALTER TABLE devices ADD COLUMN client TEXT NOT NULL DEFAULT 'collector';
        CREATE TABLE openrosa_submissions (
            instance_id TEXT PRIMARY KEY,
            device_id TEXT NOT NULL REFERENCES devices(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            commune_id TEXT NOT NULL REFERENCES communes(id),
            form_id TEXT NOT NULL,
            form_version TEXT NOT NULL,
            deprecated_id TEXT,
            xml TEXT NOT NULL,
            xml_sha256 TEXT NOT NULL,
            files TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL,
            errors TEXT,
            record_id TEXT,
            rev TEXT,
            received_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX openrosa_submissions_waiting ON openrosa_submissions(commune_id, state);
        """,
    )


@migrations()
def m012_api_tokens(db: sqlite_utils.Database) -> None:
    """Tokens a staff member makes for a program that reads the OData feed (Excel, Power BI):
    kept as a hash only, each the staff member's own and as wide as the staff member is."""
    _run(
        db,
        """
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX api_tokens_user ON api_tokens(user_id, id);
        """,
    )


@migrations()
def m015_feed_latest_households(db: sqlite_utils.Database) -> None:
    """A household's change in the pull feed is its whole state: a newer one for the same
    phones replaces the older (``feeds.record_change``), found through the entity's index.
    The feed an installation already holds keeps only each household's latest put."""
    _run(
        db,
        """
        CREATE INDEX changes_entity ON changes(entity_id);
        DELETE FROM changes WHERE kind = 'household' AND op = 'put' AND EXISTS (
            SELECT 1 FROM changes later WHERE later.entity_id = changes.entity_id
                AND later.kind = 'household' AND later.op = 'put' AND later.seq > changes.seq
                AND later.commune_id IS changes.commune_id
                AND later.village_id IS changes.village_id
                AND later.user_id IS changes.user_id);
        """,
    )


@migrations()
def m016_facts_written_by_the_insert(db: sqlite_utils.Database) -> None:
    """The push path writes a record's list facts (outcome, needs help, visit date) in its own
    INSERT, from the answers' JSON text it has in hand (``store.store_pushed``, through
    ``RECORD_FACTS_OF``). The trigger that filled them by updating the row just inserted
    (decompressing its answers three times, and writing the row and its list indexes twice)
    now runs only for an insert that did not give them: any other writer's rows get the same
    facts as before."""
    _run(
        db,
        f"""
        DROP TRIGGER records_facts_insert;
        CREATE TRIGGER records_facts_insert AFTER INSERT ON records
            WHEN NEW.visit_date IS NULL
            BEGIN UPDATE records SET {_RECORD_FACTS_PACKED} WHERE id = NEW.id; END;
        """,
    )


@migrations()
def m017_file_sweeps(db: sqlite_utils.Database) -> None:
    """The files a person's erasure took out of the answers, kept until they are swept
    (``personal_data.sweep``): queued in the erasure's own transaction, so that a sweep that
    failed (a full disk, a database busy past its wait) or a server stopped between the two is
    done again by the next sweep of the commune or at the next start."""
    _run(
        db,
        """
        CREATE TABLE file_sweeps (
            commune_id TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (commune_id, sha256)
        ) WITHOUT ROWID;
        """,
    )


@migrations()
def m018_record_erasures(db: sqlite_utils.Database) -> None:
    """Which people a record's erasures took out, by role (``head``, ``respondent``,
    ``member``), and the revisions it scrubbed (``revs``): a phone's edit based on one of
    those, which it held through the erasure, gets the same erasure when it arrives
    (``rights.after_erasures``). No name is kept.

    The erasures made before this step are read back: each record the audit log's
    ``person_erase`` names, with the roles its current answers bear the mark for (an answer
    ``[đã xóa]``: outside the repeats but the respondent's, the head; the respondent's; in the
    roster ``members``, a member), and the revisions received before it (a phone's in its very
    second too: times are kept to the second)."""
    _run(
        db,
        """
        CREATE TABLE record_erasures (
            record_id TEXT NOT NULL,
            roles TEXT NOT NULL,
            revs TEXT NOT NULL,
            erased_at TEXT NOT NULL
        );
        CREATE INDEX record_erasures_record ON record_erasures(record_id);
        INSERT INTO record_erasures (record_id, roles, revs, erased_at)
        SELECT id, roles, revs, at FROM (
            SELECT r.id, e.at,
                (SELECT json_group_array(role) FROM (
                    SELECT 'head' AS role WHERE EXISTS (SELECT 1 FROM json_each(r.a) t
                        WHERE t.key <> 'respondent_name' AND t.value = '[đã xóa]')
                    UNION ALL SELECT 'respondent'
                        WHERE json_extract(r.a, '$.respondent_name') = '[đã xóa]'
                    UNION ALL SELECT 'member' WHERE EXISTS (
                        SELECT 1 FROM json_each(r.a, '$.members') m, json_each(
                            CASE WHEN m.type = 'object' THEN m.value ELSE '{}' END) f
                        WHERE f.value = '[đã xóa]'))) AS roles,
                (SELECT json_group_array(v.rev) FROM revisions v WHERE v.record_id = r.id
                    AND (v.received_at < e.at
                         OR v.received_at = e.at AND v.device_id IS NOT NULL)) AS revs
            FROM (SELECT at, CASE WHEN json_valid(ids) THEN ids ELSE '[]' END AS ids
                  FROM (SELECT at, '["' || replace(target, ',', '","') || '"]' AS ids
                        FROM audit_log WHERE action = 'person_erase')) e,
                json_each(e.ids) named,
                (SELECT id, answers(data) AS a FROM records) r
            WHERE r.id = named.value)
        WHERE roles <> '[]' AND revs <> '[]';
        """,
    )


@migrations()
def m019_no_device_index_on_records(db: sqlite_utils.Database) -> None:
    """The records had an index on their phone for one question, what a phone's status counts,
    which the revisions' own index on the phone answers as well (``push.status``): every push
    wrote it, for nothing else."""
    _run(db, "DROP INDEX records_device;")


@migrations()
def m020_facts_of_any_shape(db: sqlite_utils.Database) -> None:
    """The list's facts read ``members`` and ``support`` only where they hold objects
    (``_GUARDED_FACT_EXPRESSIONS``): a record of a form whose ``members`` is a select_multiple
    is stored, its office edit saved, instead of failing on SQLite's "malformed JSON"."""
    facts = ",\n".join(
        f"{name} = {expr}" for name, expr in _GUARDED_FACT_EXPRESSIONS.items()
    ).replace("NEW.data", "answers(NEW.data)")
    triggers = {
        "records_facts_insert": "AFTER INSERT ON records WHEN NEW.visit_date IS NULL",
        "records_facts_update": "AFTER UPDATE OF data, meta ON records",
    }
    for name, when in triggers.items():
        db.execute(f"DROP TRIGGER {name}")
        db.execute(
            f"CREATE TRIGGER {name} {when} BEGIN UPDATE records SET {facts} WHERE id = NEW.id; END"
        )


@migrations()
def m021_household_puts_by_seq(db: sqlite_utils.Database) -> None:
    """A household's put for its village is replaced through the seq of its latest put, kept
    in rows the writes of a put write anyway (``households.put`` for the register's puts,
    ``household_followups.put`` for a follow-up's, the greater is the latest:
    ``feeds.replace_put``), rather than found by the household's id: the feed's index of
    entity ids (random keys, a page written and one more read at every visit) keeps only what
    is still looked up by id, the changes kept for one volunteer and those of other kinds. A
    household keeps one put for its village, wherever it was moved from. The seq is the feed's
    own, not the register's: writing it sends nothing upstream."""
    _run(
        db,
        """
        DELETE FROM changes WHERE kind = 'household' AND op = 'put' AND user_id IS NULL
            AND seq < (SELECT max(later.seq) FROM changes later
                WHERE later.entity_id = changes.entity_id AND later.kind = 'household'
                AND later.op = 'put' AND later.user_id IS NULL);
        ALTER TABLE households ADD COLUMN put INTEGER;
        ALTER TABLE household_followups ADD COLUMN put INTEGER;
        DROP TRIGGER outbox_household_update;
        CREATE TRIGGER outbox_household_update AFTER UPDATE OF commune_id, village_id, code,
            head_name, address, removed_at, updated_at ON households BEGIN
            INSERT INTO outbox (kind, entity_id, commune_id)
                VALUES ('household', NEW.id, NEW.commune_id);
        END;
        UPDATE households SET put = (SELECT max(seq) FROM changes
            WHERE entity_id = households.id AND kind = 'household' AND op = 'put'
            AND user_id IS NULL);
        DROP INDEX changes_entity;
        CREATE INDEX changes_entity ON changes(entity_id)
            WHERE (kind <> 'household' OR user_id IS NOT NULL);
        """,
    )


@migrations()
def m022_feed_replaced(db: sqlite_utils.Database) -> None:
    """A household's replaced put stays in the feed until a sweep deletes it when no phone is
    syncing (``feeds.replace_put``, ``feeds.sweep_replaced``): its seq waits here."""
    _run(db, "CREATE TABLE feed_replaced (seq INTEGER PRIMARY KEY);")
