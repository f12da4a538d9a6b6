"""Perks, the partners that may check them, the member's consents and the partner-check log.

A partner learns only yes or no about a perk, and only while the member's consent to that
partner is live: the page puts each perk next to its partners and the switch that allows
or stops them, and shows every check made, including the refused ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.service import Plaudit
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import ConsentView, PerkView
from plaudit.entrypoints.web.portal_common import SLUG, Field, act, fields, page
from plaudit.entrypoints.web.session import MemberForm, MemberPage, service

router = APIRouter(include_in_schema=False)

CHECKS_SHOWN = 100


def _perks(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    rb = svc.rulebook()
    needs = {p.id: p.when.source for p in rb.perks}
    labels = {p.id: p.label for p in rb.perks}
    granted = {c.partner: c for c in state.consents}
    # every partner the member ever answered, and every partner a perk lists now
    partners = list(dict.fromkeys([*rb.partners, *granted]))
    perks = state.perks or tuple(_listed(rb))
    return {"state": state, "perks": perks, "needs": needs, "labels": labels,
            "consents": granted, "partners": partners, "listed": set(rb.partners),
            "checks": svc.partner_checks(member, limit=CHECKS_SHOWN)}


def _listed(rb: Rulebook) -> list[PerkView]:
    """An opted-out member's state lists no perks: show the rulebook's, all locked."""
    return [PerkView(p.id, p.label, False, p.partners) for p in rb.perks]


@router.get("/perks")
async def perks(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_perks, service(request), session.member)
    return page(request, "perks.html", session, "perks", **data)


@router.post("/consents")
async def consent(request: Request, session: MemberForm) -> Response:
    """The API's PUT and DELETE of ``/v1/members/{id}/consents/{partner}``: a grant must
    name a partner some perk lists (the service refuses another), a revocation is taken
    for any partner id: a member may always withdraw."""
    values = fields(session, {"partner": Field(64, SLUG),
                              "granted": Field(3, choices=("yes", "no"))})
    partner, granted = values["partner"], values["granted"] == "yes"
    svc = service(request)

    def done(view: ConsentView) -> str:
        if view.granted:
            return f"{view.partner} may now check whether you qualify for its perks."
        return f"{view.partner} can no longer check your perks."

    return await act("/portal/perks", lambda: svc.record_consent(session.member, partner,
                                                                   granted), done)


__all__ = ["router"]
