"""Who is calling: operator keys with scopes, partner keys and short-lived member tokens.

Every credential is one opaque bearer token ``<prefix>_<key id>_<secret>``; the prefix says
what it is (``plk`` operator key, ``plp`` partner key, ``plm`` member token) so secret
scanners and people can recognise a leaked one. Only the SHA-256 of the secret is stored.
A fast hash is right here, unlike for passwords: the secret is 256 random bits, so there
is nothing to brute-force, and every request verifies one.

Scopes are deliberately few. ``admin`` implies every other; ``read`` may also issue a
member token, because a token reads one member, a strict subset of what ``read`` reads.
``erase`` deletes members for good and nothing else, so the backend behind a member's
"delete my account" button need not hold ``admin`` (which publishes rulebooks and creates
keys); no member token may erase (a token issued by a ``read`` key would otherwise erase
for it).
A member token never gets more than its issuer had: it always reads its member, and it may
grant and revoke that member's consents (scope ``consents``) only when the issuing key also
has ``ingest``, which records consents itself. Partner keys carry no scopes: what they may
do is fixed by kind.

A member token lives no longer than its issuer: the token row names the key that issued
it (``issued_by``), revoking a key revokes its tokens in the same transaction, and every
use of a token also checks that its issuer is still live. The second check is what makes
revocation complete: another process may issue a token from a key it verified just
before the revocation (its cache is up to :data:`CACHE_SECONDS` old), after the
revocation's update has run. A token that names no issuer (one from before the column
existed) is refused, since nobody can say whether its issuer still stands; ``plaudit keys
token`` records :data:`CONSOLE`, a person with the database itself.

Verified keys are cached for a couple of seconds per process, so a busy API does not read
the keys table on every request; revoking in this process takes effect at once, in other
processes within :data:`CACHE_SECONDS` (for a token: within that time of its issuer's
revocation, as for the issuer itself).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from plaudit.application import audit
from plaudit.application.ports import Clock, KeyRow, Store
from plaudit.domain.errors import NotFound, Unauthenticated

SCOPES = ("admin", "ingest", "read", "erase")
MEMBER_SCOPES = ("read", "consents")
PREFIX = {"operator": "plk", "partner": "plp", "member": "plm"}
KIND_OF_PREFIX = {v: k for k, v in PREFIX.items()}
DEFAULT_TOKEN_SECONDS = 900
MAX_TOKEN_SECONDS = 86_400
CACHE_SECONDS = 2.0
CONSOLE = "console"
"""The issuer recorded for a member token made with ``plaudit keys token``: no key issued
it, whoever ran the command has the database."""
_PARTNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^(plk|plp|plm)_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    key_id: str
    kind: str
    name: str
    scopes: frozenset[str]
    partner: str | None = None
    member: str | None = None

    def has(self, scope: str) -> bool:
        return self.kind == "operator" and ("admin" in self.scopes or scope in self.scopes)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created credential: ``token`` is shown once and never stored."""

    token: str
    row: KeyRow


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _live(row: KeyRow, now_us: int) -> bool:
    return row.revoked_us is None and (row.expires_us is None or row.expires_us > now_us)


class Access:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._cache: dict[str, tuple[KeyRow, float]] = {}

    # -- issuing ------------------------------------------------------------------------

    def _issue(self, kind: str, name: str, scopes: Iterable[str] = (), *, actor: str,
               partner: str | None = None, member: str | None = None,
               expires_us: int | None = None, issued_by: str | None = None) -> IssuedKey:
        """Store a new credential and its audit entry in one transaction. The entry names
        the key by id, never by secret; a member token's entry names the member by audit
        reference, and leaves out the token's name (which holds the member id)."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = KeyRow(key_id, name, kind, " ".join(sorted(set(scopes))), partner, member,
                     _hash(secret), self.clock.now_us(), expires_us, None, issued_by)
        with self.store.write() as tx:
            no = tx.member_no(member) if member is not None else None
            if member is not None and no is None:
                raise NotFound(f"member `{member}` not found")
            tx.add_key(row)
            if no is not None:
                audit.record(tx, self.clock, actor, "token.issue", audit.member_subject(tx, no),
                             {"token": key_id, "scopes": row.scopes.split(),
                              "seconds": ((expires_us or 0) - row.created_us) // 1_000_000})
            else:
                detail: dict[str, object] = {"kind": kind, "name": name}
                if partner is not None:
                    detail["partner"] = partner
                else:
                    detail["scopes"] = row.scopes.split()
                audit.record(tx, self.clock, actor, "key.create", f"key:{key_id}", detail)
        return IssuedKey(f"{PREFIX[kind]}_{key_id}_{secret}", row)

    def create_key(self, name: str, scopes: Iterable[str], *, actor: str) -> IssuedKey:
        wanted = set(scopes)
        unknown = wanted - set(SCOPES)
        if unknown or not wanted:
            raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
        return self._issue("operator", name, wanted, actor=actor)

    def create_partner_key(self, name: str, partner: str, *, actor: str) -> IssuedKey:
        if not _PARTNER.match(partner):
            raise ValueError(f"partner `{partner}` must be an id (letters, digits, . _ -)")
        return self._issue("partner", name, partner=partner, actor=actor)

    def issue_member_token(self, member: str, seconds: int = DEFAULT_TOKEN_SECONDS, *,
                           issued_by: str, actor: str, consents: bool = False) -> IssuedKey:
        """A token that reads ``member``; with ``consents``, it may also grant and revoke
        that member's partner consents (give it only when the issuer may: ``ingest``).

        ``issued_by`` is the issuing operator key's id (or :data:`CONSOLE`): the token is
        valid only while that key is. ``actor`` is who asked, for the audit log (the same
        key id over HTTP; ``cli:<user>`` for the console)."""
        if not 1 <= seconds <= MAX_TOKEN_SECONDS:
            raise ValueError(f"a member token lives 1 to {MAX_TOKEN_SECONDS} seconds")
        expires = self.clock.now_us() + seconds * 1_000_000
        scopes = MEMBER_SCOPES if consents else ("read",)
        return self._issue("member", f"member token for {member}", scopes, member=member,
                           expires_us=expires, issued_by=issued_by, actor=actor)

    def revoke(self, key_id: str, *, actor: str) -> None:
        """Revoke a key and every member token it issued (at once in this process: the
        issuer's cached entry goes, and each token use checks its issuer)."""
        with self.store.write() as tx:
            if not tx.revoke_key(key_id, self.clock.now_us()):
                raise NotFound(f"no live key `{key_id}`")
            audit.record(tx, self.clock, actor, "key.revoke", f"key:{key_id}")
        self._cache.pop(key_id, None)

    def forget(self, key_ids: Iterable[str]) -> None:
        """Drop cached keys whose rows are gone (an erased member's tokens)."""
        for key_id in key_ids:
            self._cache.pop(key_id, None)

    def list_keys(self) -> list[KeyRow]:
        """Operator and partner keys (member tokens are short-lived and not listed)."""
        with self.store.read() as tx:
            return tx.keys(["operator", "partner"])

    def key(self, key_id: str) -> KeyRow:
        with self.store.read() as tx:
            row = tx.key(key_id)
        if row is None or row.kind == "member":
            raise NotFound(f"no key `{key_id}`")
        return row

    # -- verifying ----------------------------------------------------------------------

    def authenticate(self, token: str) -> Principal:
        """The caller behind a bearer token, or :class:`Unauthenticated`.

        Every failure gives the same message, so a caller cannot tell an unknown key from a
        revoked or expired one.
        """
        m = _TOKEN.match(token)
        if m is None:
            raise Unauthenticated("the credential is not valid")
        prefix, key_id, secret = m.groups()
        row = self._row(key_id)
        now = self.clock.now_us()
        if (row is None or PREFIX[row.kind] != prefix
                or not hmac.compare_digest(row.secret_hash, _hash(secret))
                or not _live(row, now)
                or (row.kind == "member" and not self._issuer_live(row.issued_by, now))):
            raise Unauthenticated("the credential is not valid")
        return Principal(row.key_id, row.kind, row.name, frozenset(row.scopes.split()),
                         row.partner, row.member_id)

    def _issuer_live(self, issuer: str | None, now: int) -> bool:
        """Whether a member token's issuer still stands (None: unknown, so no)."""
        if issuer == CONSOLE:
            return True
        if issuer is None:
            return False
        row = self._row(issuer)
        return row is not None and row.kind == "operator" and _live(row, now)

    def _row(self, key_id: str) -> KeyRow | None:
        hit = self._cache.get(key_id)
        now = time.monotonic()
        if hit is not None and now - hit[1] < CACHE_SECONDS:
            return hit[0]
        with self.store.read() as tx:
            row = tx.key(key_id)
        if row is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (row, now)
        return row


__all__ = ["CONSOLE", "MEMBER_SCOPES", "SCOPES", "Access", "IssuedKey", "Principal"]
