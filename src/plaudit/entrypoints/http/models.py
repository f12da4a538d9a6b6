"""Request and response bodies that are the API's own (not the domain's state values).

Member state is returned as the domain's own immutable values (``plaudit.domain.state``),
rendered to JSON with decimals as strings so no precision is lost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plaudit.application.access import DEFAULT_TOKEN_SECONDS, MAX_TOKEN_SECONDS

Partner = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                               description="A partner id, as listed under a perk's "
                                           "`partners` in the rulebook.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestItem(BaseModel):
    index: int
    id: str
    member: str
    status: Literal["stored", "duplicate"]


class IngestOut(BaseModel):
    stored: int
    duplicates: int
    items: list[IngestItem]


class KeyCreate(_Body):
    """An operator key (give `scopes`) or a partner key (give `partner`)."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    scopes: list[Literal["admin", "ingest", "read", "erase"]] | None = Field(
        default=None, min_length=1, max_length=4)
    partner: Partner | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> KeyCreate:
        if (self.scopes is None) == (self.partner is None):
            raise ValueError("give either `scopes` (an operator key) or `partner` "
                             "(a partner key)")
        return self


class KeyOut(BaseModel):
    key_id: str
    name: str
    kind: Literal["operator", "partner"]
    scopes: list[str]
    partner: str | None
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyOut):
    token: str = Field(description="The credential. Shown once: only its hash is stored.")


class TokenCreate(_Body):
    seconds: int = Field(default=DEFAULT_TOKEN_SECONDS, ge=1, le=MAX_TOKEN_SECONDS,
                         description="Lifetime of the token.")


class TokenOut(BaseModel):
    member: str
    token: str
    scopes: list[Literal["consents", "read"]] = Field(
        description="`read`: the member's state; `consents`: grant and revoke the member's "
                    "partner consents (only when the issuing key has `ingest`).")
    expires_at: str


class ConsentOut(BaseModel):
    member: str
    partner: str
    granted: bool
    at: str


class ScorePointOut(BaseModel):
    date: str
    score: int
    band: str | None


class ScoreHistoryOut(BaseModel):
    member: str
    as_of: str
    points: list[ScorePointOut]


class RulebookVersionOut(BaseModel):
    version: int
    program_id: str
    digest: str
    published_at: str
    published_by: str | None = Field(description="The key id (or `cli:<user>`) that "
                                     "published it; null if not recorded (older versions).")
    current: bool


class RulebookChange(BaseModel):
    section: str
    path: str = Field(description="Where, e.g. `score.factors[repayment_history].weight`: "
                                  "list items by their `id` (or `name`).")
    change: Literal["added", "removed", "changed", "reordered"]
    before: Any = Field(description="The old value (null when added; the old order of ids "
                                    "when reordered).")
    after: Any = Field(description="The new value (null when removed).")


class RulebookDiffOut(BaseModel):
    before: str
    after: str
    changed: bool = Field(description="Whether any rule changed (comments and layout do "
                                      "not count).")
    summary: list[str] = Field(description="One line per change; `no changes` when none.")
    sections: dict[str, int] = Field(description="Changes per section.")
    changes: list[RulebookChange]
    text: str = Field(description="The unified diff of the two texts.")


class RulebookOut(RulebookVersionOut):
    source: str


class Warning(BaseModel):
    where: str
    field: str
    reason: str


class DraftOut(BaseModel):
    draft_id: int
    program_id: str
    digest: str
    created_at: str
    published_version: int | None
    warnings: list[Warning] = []
    """What compiles but may mislead members (the lint); only on upload and on one draft."""


class DraftSourceOut(DraftOut):
    source: str


class JobOut(BaseModel):
    job_id: str
    kind: str
    status: Literal["running", "succeeded", "failed"]
    done: int
    total: int
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    updated_at: str


class PerkCheckOut(BaseModel):
    member: str
    perk: str
    eligible: bool
    checked_at: str
    valid_until: str


class Health(BaseModel):
    status: Literal["ok"]
    rulebook_version: int | None
