"""The audit log (append-only, hash-chained) and immutable published rulebooks.

* ``audit_log``: one row per operator action, chained by hash (application/audit.py);
  ``audit_head`` is one row holding the newest entry's seq and hash, moved by the same
  transaction that appends, so removing the newest entries is noticed too.
* ``members.audit_ref``: a random reference that stands for the member in audit entries
  (never the member id); it goes with the member's row when the member is erased.
* ``rulebooks.published_by``: who published each version (NULL for versions published
  before this revision: nobody recorded it).

Triggers, on SQLite and PostgreSQL, refuse what the code never does: changing or deleting
an audit entry, deleting or rewinding the head, appending anywhere but after the head,
changing a published rulebook's content or deleting a version. On SQLite a later migration
that rebuilds ``rulebooks``, ``audit_log`` or ``audit_head`` (``batch_alter_table`` with a
table copy) drops their triggers with the old table, and must create them again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry (application/audit.py has the same)."""

ENTRY_CHANGED = "audit_log is append-only: an entry cannot be changed"
ENTRY_DELETED = "audit_log is append-only: an entry cannot be deleted"
OFF_HEAD = ("audit_log entries are appended after the head only (seq = head seq + 1, "
            "prev_hash = head hash)")
HEAD_MOVED = "audit_head only moves forward by one, to the entry just appended"
HEAD_DELETED = "audit_head cannot be deleted"
RULEBOOK_CHANGED = ("a published rulebook version cannot be changed: publish a new "
                    "version instead")
RULEBOOK_DELETED = "a published rulebook version cannot be deleted"

_CONTENT = ("version", "program_id", "digest", "source", "published_us", "published_by")


def _sqlite_triggers() -> list[str]:
    head_seq = "(SELECT seq FROM audit_head WHERE id = 1)"
    head_hash = "(SELECT hash FROM audit_head WHERE id = 1)"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _CONTENT)
    return [
        f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, '{ENTRY_CHANGED}'); END""",
        f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, '{ENTRY_DELETED}'); END""",
        f"""CREATE TRIGGER audit_log_after_head BEFORE INSERT ON audit_log
            WHEN NEW.seq IS NOT {head_seq} + 1 OR NEW.prev_hash IS NOT {head_hash}
            BEGIN SELECT RAISE(ABORT, '{OFF_HEAD}'); END""",
        f"""CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
            WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1
              OR NEW.hash IS NOT (SELECT hash FROM audit_log WHERE seq = NEW.seq)
            BEGIN SELECT RAISE(ABORT, '{HEAD_MOVED}'); END""",
        f"""CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
            BEGIN SELECT RAISE(ABORT, '{HEAD_DELETED}'); END""",
        f"""CREATE TRIGGER rulebooks_immutable BEFORE UPDATE ON rulebooks
            WHEN {changed}
            BEGIN SELECT RAISE(ABORT, '{RULEBOOK_CHANGED}'); END""",
        f"""CREATE TRIGGER rulebooks_no_delete BEFORE DELETE ON rulebooks
            BEGIN SELECT RAISE(ABORT, '{RULEBOOK_DELETED}'); END""",
    ]


_SQLITE_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "audit_log_after_head",
                    "audit_head_forward", "audit_head_no_delete", "rulebooks_immutable",
                    "rulebooks_no_delete")


def _postgres_statements() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT)
    return [
        # one function raises the message its trigger passes
        """CREATE FUNCTION plaudit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END
           $$""",
        f"""CREATE FUNCTION plaudit_audit_after_head() RETURNS trigger LANGUAGE plpgsql AS $$
           DECLARE head_seq bigint; head_hash text;
           BEGIN
             SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1;
             IF head_seq IS NULL OR NEW.seq <> head_seq + 1 OR NEW.prev_hash <> head_hash
             THEN RAISE EXCEPTION '{OFF_HEAD}' USING ERRCODE = 'restrict_violation';
             END IF;
             RETURN NEW;
           END $$""",
        f"""CREATE FUNCTION plaudit_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 OR NEW.hash IS DISTINCT FROM
                (SELECT hash FROM audit_log WHERE seq = NEW.seq)
             THEN RAISE EXCEPTION '{HEAD_MOVED}' USING ERRCODE = 'restrict_violation';
             END IF;
             RETURN NEW;
           END $$""",
        f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
            EXECUTE FUNCTION plaudit_refuse('{ENTRY_CHANGED}')""",
        f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
            EXECUTE FUNCTION plaudit_refuse('{ENTRY_DELETED}')""",
        f"""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION plaudit_refuse('{ENTRY_DELETED}')""",
        """CREATE TRIGGER audit_log_after_head BEFORE INSERT ON audit_log FOR EACH ROW
            EXECUTE FUNCTION plaudit_audit_after_head()""",
        """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head FOR EACH ROW
            EXECUTE FUNCTION plaudit_audit_head_forward()""",
        f"""CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head FOR EACH ROW
            EXECUTE FUNCTION plaudit_refuse('{HEAD_DELETED}')""",
        f"""CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
            FOR EACH STATEMENT EXECUTE FUNCTION plaudit_refuse('{HEAD_DELETED}')""",
        f"""CREATE TRIGGER rulebooks_immutable BEFORE UPDATE ON rulebooks FOR EACH ROW
            WHEN ({changed}) EXECUTE FUNCTION plaudit_refuse('{RULEBOOK_CHANGED}')""",
        f"""CREATE TRIGGER rulebooks_no_delete BEFORE DELETE ON rulebooks FOR EACH ROW
            EXECUTE FUNCTION plaudit_refuse('{RULEBOOK_DELETED}')""",
        f"""CREATE TRIGGER rulebooks_no_truncate BEFORE TRUNCATE ON rulebooks
            FOR EACH STATEMENT EXECUTE FUNCTION plaudit_refuse('{RULEBOOK_DELETED}')""",
    ]


_POSTGRES_TRIGGERS = (("audit_log", "audit_log_no_update"), ("audit_log", "audit_log_no_delete"),
                      ("audit_log", "audit_log_no_truncate"),
                      ("audit_log", "audit_log_after_head"),
                      ("audit_head", "audit_head_forward"),
                      ("audit_head", "audit_head_no_delete"),
                      ("audit_head", "audit_head_no_truncate"),
                      ("rulebooks", "rulebooks_immutable"), ("rulebooks", "rulebooks_no_delete"),
                      ("rulebooks", "rulebooks_no_truncate"))
_POSTGRES_FUNCTIONS = ("plaudit_refuse", "plaudit_audit_after_head",
                       "plaudit_audit_head_forward")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    # plain ADD COLUMN on both databases (SQLite cannot add a UNIQUE column: the unique
    # index comes separately), so `members`, which other tables reference, is not rebuilt
    op.add_column("members", sa.Column("audit_ref", sa.String(16), nullable=True))
    op.create_index("ux_members_audit_ref", "members", ["audit_ref"], unique=True)
    op.add_column("rulebooks", sa.Column("published_by", sa.String(64), nullable=True))
    statements = (_postgres_statements() if op.get_bind().dialect.name == "postgresql"
                  else _sqlite_triggers())
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name in _POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for function in _POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ux_members_audit_ref", "members")
    op.execute("ALTER TABLE members DROP COLUMN audit_ref")  # SQLite >= 3.35 and PostgreSQL
    op.execute("ALTER TABLE rulebooks DROP COLUMN published_by")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_action", "audit_log")
    op.drop_table("audit_log")
