"""The stored schema (SQLAlchemy Core). Alembic migrations create exactly this.

Events are the only facts; ``member_states`` is derived and can always be rebuilt by
re-folding. Members get a compact integer key (``member_no``) so the per-member event index
stays small; operator member ids are kept once, in ``members``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

# SQLite only aliases ROWID (and so auto-increments) for a column typed exactly INTEGER.
Key = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

members = Table(
    "members",
    metadata,
    Column("member_no", Key, primary_key=True, autoincrement=True),
    Column("member_id", String(128), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
    # audit (migration 0011): a random reference that stands for the member in audit
    # entries, set the first time one names them; it goes with this row on erasure
    Column("audit_ref", String(16), nullable=True),
    Index("ux_members_audit_ref", "audit_ref", unique=True),
)

events = Table(
    "events",
    metadata,
    Column("seq", Key, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("member_no", Key, ForeignKey("members.member_no"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("at", String(64), nullable=False),
    Column("attributes", Text, nullable=False),
    # disputes (migration 0009): true while a dispute leaves the event out of every fold
    # (open under `program.disputes: exclude`, or accepted); duplicate checks still see it
    Column("excluded", Boolean, nullable=False, server_default=false()),
    Index("ix_events_member_time", "member_no", "at_us"),
)

member_states = Table(
    "member_states",
    metadata,
    Column("member_no", Key, ForeignKey("members.member_no"), primary_key=True,
           autoincrement=False),
    Column("rulebook_version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("last_at_us", BigInteger, nullable=False),
    Column("last_event_id", String(128), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("score", Integer, nullable=True),
    Column("band", String(64), nullable=True),
    Column("tier", String(64), nullable=True),
    Column("updated_us", BigInteger, nullable=False),
    # partners the member's latest word grants, space-separated (partner ids have no
    # spaces); NULL for rows written before it existed: not known, fold to find out
    Column("consents", Text, nullable=True),
    # disputes (migration 0009): bumped whenever the member's counted events change other
    # than by a new event (a dispute excludes or restores one), so a fold cached by another
    # process is told apart from the stored one; put_states leaves it as it is
    Column("revision", Integer, nullable=False, server_default="0"),
)

fold_snapshots = Table(
    "fold_snapshots",
    metadata,
    # derived (migration 0012): one compact snapshot of the member's accumulator, so a
    # cache miss folds only the events after it; trusted only at the state row's rulebook
    # version and revision, and while exactly `position` stored events sort up to
    # (last_at_us, last_event_id) — see application/snapshots.py
    Column("member_no", Key, ForeignKey("members.member_no"), primary_key=True,
           autoincrement=False),
    Column("rulebook_version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("last_at_us", BigInteger, nullable=False),
    Column("last_event_id", String(128), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
)

rulebooks = Table(
    "rulebooks",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("program_id", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("published_us", BigInteger, nullable=False),
    # who published it (migration 0011; NULL before): an operator key id or cli:<user>.
    # Triggers refuse changing any of these columns and deleting a row
    Column("published_by", String(64), nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("partner", String(64), nullable=True),
    Column("member_id", String(128), nullable=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=True),
    Column("revoked_us", BigInteger, nullable=True),
    # member tokens: the id of the operator key that issued the token ("console" for
    # `plaudit keys token`); revoking that key revokes the token. NULL for other keys, and
    # for tokens from before the column, which are refused (migration 0004)
    Column("issued_by", String(32), nullable=True),
    Index("ix_api_keys_issued_by", "issued_by"),
)

rulebook_drafts = Table(
    "rulebook_drafts",
    metadata,
    Column("draft_id", Key, primary_key=True, autoincrement=True),
    Column("program_id", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("published_version", Integer, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

reward_stock = Table(
    "reward_stock",
    metadata,
    # How many of each reward are redeemed and not cancelled, across all members. The
    # stock guard is a conditional UPDATE on this row in the redemption's transaction
    # (`redeemed + n <= stock`), so concurrent redemptions can never oversell.
    Column("reward_id", String(64), primary_key=True),
    Column("redeemed", BigInteger, nullable=False),
    CheckConstraint("redeemed >= 0", name="ck_reward_stock_redeemed"),
)

# -- leaderboards: the one cross-member view, derived, written with member_states --------

leaderboard_entries = Table(
    "leaderboard_entries",
    metadata,
    # keyed by member first: a member's write (upsert, opt-out, re-roll) finds their rows
    # by key; the ranking index below serves every read of a board
    Column("member_no", Key, ForeignKey("members.member_no"), primary_key=True,
           autoincrement=False),
    Column("board", String(64), primary_key=True),
    Column("period", String(16), primary_key=True),
    # minus the metric in millionths, floored, within 64 bits: ascending order is the
    # ranking (most first), the same on both databases; the exact value is the text
    Column("sort_key", BigInteger, nullable=False),
    Column("value", String(80), nullable=False),
    Column("reached_at_us", BigInteger, nullable=False),
    Column("pseudonym", String(48), nullable=False),
    # a number from the pseudonym's hash: the last tie-break, free of text collation
    Column("tag", BigInteger, nullable=False),
    Index("ix_leaderboard_rank", "board", "period", "sort_key", "reached_at_us", "tag",
          "member_no"),
)

friendships = Table(
    "friendships",
    metadata,
    # one row per member a member's latest word grants; mutual = both rows exist
    Column("member_no", Key, ForeignKey("members.member_no"), primary_key=True,
           autoincrement=False),
    Column("friend_id", String(128), primary_key=True),
    Index("ix_friendships_friend", "friend_id", "member_no"),
)

# -- partner checks: what partners asked about a member, shown to that member ----------

partner_checks = Table(
    "partner_checks",
    metadata,
    Column("check_no", Key, primary_key=True, autoincrement=True),
    Column("member_no", Key, ForeignKey("members.member_no"), nullable=False),
    Column("partner", String(64), nullable=False),
    Column("perk", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    # yes, no, or refused (no live consent: the partner got the same 403 as for anyone)
    Column("answer", String(16), nullable=False),
    Column("valid_until_us", BigInteger, nullable=True),
    Index("ix_partner_checks_member", "member_no", "at_us"),
)

# -- disputes: a member's objection to one of their events, decided by the operator ------

disputes = Table(
    "disputes",
    metadata,
    Column("dispute_no", Key, primary_key=True, autoincrement=True),  # paging order
    Column("dispute_id", String(32), nullable=False, unique=True),  # public, random
    Column("member_no", Key, ForeignKey("members.member_no"), nullable=False),
    # one dispute per event, ever: a decided one is not opened again
    Column("event_id", String(128), ForeignKey("events.event_id"), nullable=False,
           unique=True),
    Column("reason", String(32), nullable=False),  # a code, never the member's own words
    Column("status", String(16), nullable=False),  # open, accepted, rejected
    Column("opened_us", BigInteger, nullable=False),
    Column("decided_us", BigInteger, nullable=True),
    Column("decision_reason", String(500), nullable=True),  # the operator's, on rejection
    Column("decided_by", String(64), nullable=True),  # operator key id or cli:<user>
    Index("ix_disputes_member", "member_no", "dispute_no"),
    Index("ix_disputes_status", "status", "dispute_no"),
)

# -- member data rights: what an erasure leaves ------------------------------------------

tombstones = Table(
    "tombstones",
    metadata,
    # one row per erased member, with nothing that identifies them: a random id (the one
    # other members' rewritten references name, and audit records use), when, and counts
    Column("tombstone_id", String(32), primary_key=True),
    Column("erased_us", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),  # the member's own events deleted
    # other members' events whose references to the member now name the tombstone
    Column("rewritten", Integer, nullable=False),
)

# -- the audit log: operator actions, append-only and hash-chained (application/audit.py) -

audit_log = Table(
    "audit_log",
    metadata,
    # 1, 2, 3 … without gaps; triggers refuse UPDATE and DELETE, and an insert anywhere but
    # right after the head. No member id or member_no: a member is `member:<audit_ref>`
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),  # a key id, cli:<user>, console
    Column("action", String(32), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("detail", Text, nullable=False),  # small canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_action", "action", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    # one row: the newest entry's seq and hash, moved by the transaction that appends (a
    # trigger lets it move only forward by one, to that entry), so that removing entries
    # from the end is noticed by `plaudit audit verify`; also the lock appends queue on
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="ck_audit_head_one_row"),
)

__all__ = ["api_keys", "audit_head", "audit_log", "disputes", "events", "fold_snapshots",
           "friendships", "jobs",
           "leaderboard_entries", "member_states", "members", "metadata", "partner_checks",
           "reward_stock", "rulebook_drafts", "rulebooks", "tombstones"]
