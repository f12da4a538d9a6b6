"""The backtest report as one self-contained HTML file: inline CSS and SVG drawn here.

No JavaScript, no fonts, images or styles from anywhere: the file opens offline, can be
mailed or archived with the rulebook change it judged, and shows the same thing in ten
years. Every string that came from a rulebook or a cohort file (labels, band, tier, perk
and group names, member ids) goes through :func:`_e` (HTML-escaped, quotes too); numbers
are formatted here. Kept beside the CLI and the HTTP entrypoints rather than in either,
because both may hand it a report: it reads only the report's JSON form.
"""

from __future__ import annotations

from html import escape
from typing import Any

from plaudit.application.cohorts import AUDIT_REMINDER, FAIRNESS_CAVEAT

BEFORE = "#8c96a8"
AFTER = "#2f6fde"
GAIN = "#2e9d5b"
LOSS = "#d0463c"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d232e}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;text-align:right;
border-bottom:1px solid #eef0f4}th:first-child,td:first-child{text-align:left}
.flag{color:#b3261e;font-weight:600}.muted{color:#6b7383}.note{background:#fff6e0;
padding:.6rem .8rem;border-left:4px solid #e0a800}svg text{font:11px system-ui,sans-serif}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
"""


def _e(value: object) -> str:
    return "—" if value is None else escape(str(value), quote=True)


def render(r: dict[str, Any]) -> str:
    before, after = r["rulebooks"]["before"], r["rulebooks"]["after"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Backtest: {_e(after['label'])} against {_e(before['label'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Backtest of {_e(after['label'])} against {_e(before['label'])}</h1>",
        f"<p>As of {_e(r['as_of'])}: <b>{r['members']}</b> members folded under both "
        f"rulebooks; <b>{r['changed']}</b> changed (score, band, tier or perks)."
        + (f" {r['skipped']} had no events by then." if r["skipped"] else "") + "</p>",
        _scores(r), _histogram(r),
        _matrix_section(r["bands"], "Band migration"),
        _matrix_section(r["tiers"], "Tier changes"),
        _perks(r), _movers(r),
    ]
    if r["fairness"] is not None:
        parts.append(_fairness(r["fairness"]))
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _legend() -> str:
    return (f'<p class="legend"><span style="background:{BEFORE}"></span>before'
            f'<span style="background:{AFTER}"></span>after</p>')


def _scores(r: dict[str, Any]) -> str:
    sc = r["score"]
    if sc["before"] is None and sc["after"] is None:
        return "<h2>Score</h2><p>Neither rulebook has a score.</p>"
    keys = ["p5", "p25", "p50", "p75", "p95", "min", "max", "mean"]
    rows = "".join(
        f"<tr><td>{side}</td>" + "".join(
            f"<td>{_e(sc[side][k]) if sc[side] else '—'}</td>" for k in keys) + "</tr>"
        for side in ("before", "after"))
    d = sc["delta"]
    return ("<h2>Score</h2><table><tr><th></th>" + "".join(f"<th>{k}</th>" for k in keys)
            + f"</tr>{rows}</table><p>Score up for {d['up']}, down for {d['down']}, same "
            f"for {d['same']}; mean change {_e(d['mean'])}. Without a score: "
            f"{sc['unscored']['before']} before, {sc['unscored']['after']} after.</p>")


def _histogram(r: dict[str, Any]) -> str:
    h = r["histogram"]
    if h is None:
        return ""
    edges, b, a = h["edges"], h["before"], h["after"]
    n = len(b)
    width, height, left, bottom, top_pad = 900, 260, 40, 40, 10
    plot_h = height - bottom - top_pad
    slot = (width - left - 10) / n
    peak = max([*b, *a, 1])
    bars = []
    for i in range(n):
        x = left + i * slot
        for j, (count, colour) in enumerate(((b[i], BEFORE), (a[i], AFTER))):
            bh = plot_h * count / peak
            bars.append(f'<rect x="{x + 2 + j * (slot - 4) / 2:.1f}" '
                        f'y="{top_pad + plot_h - bh:.1f}" width="{(slot - 4) / 2:.1f}" '
                        f'height="{bh:.1f}" fill="{colour}"><title>[{edges[i]}, '
                        f'{edges[i + 1]}): {count} {"before" if j == 0 else "after"}'
                        "</title></rect>")
        if i % 2 == 0:
            bars.append(f'<text x="{x:.1f}" y="{height - bottom + 15}">{edges[i]}</text>')
    bars.append(f'<text x="{left + n * slot - 20:.1f}" y="{height - bottom + 15}">'
                f"{edges[-1]}</text>")
    bars.append(f'<text x="0" y="{top_pad + 10}">{peak}</text>')
    axis = (f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" '
            f'y2="{top_pad + plot_h}" stroke="#444"/>')
    return ("<h2>Score histogram</h2>" + _legend()
            + f'<svg role="img" aria-label="score histogram before and after" '
            f'viewBox="0 0 {width} {height}" width="100%">{axis}{"".join(bars)}</svg>')


def _matrix_section(m: dict[str, Any], title: str) -> str:
    if not m["rows"] or (m["rows"] == [None] and m["columns"] == [None]):
        return ""
    rows, cols, counts = m["rows"], m["columns"], m["counts"]
    cell, label_w, head_h = 84, 120, 40
    width = label_w + cell * len(cols) + 10
    height = head_h + cell * len(rows) + 10
    peak = max([n for row in counts for n in row] + [1])
    out = [f'<text x="{label_w}" y="12">after →</text>',
           f'<text x="0" y="{head_h - 6}">before ↓</text>']
    for j, c in enumerate(cols):
        out.append(f'<text x="{label_w + j * cell + cell / 2 - 1:.0f}" y="{head_h - 6}" '
                   f'text-anchor="middle">{_e(_short(c))}<title>{_e(c)}</title></text>')
    for i, label in enumerate(rows):
        y = head_h + i * cell
        out.append(f'<text x="0" y="{y + cell / 2 + 4:.0f}">{_e(_short(label, 16))}'
                   f"<title>{_e(label)}</title></text>")
        for j, n in enumerate(counts[i]):
            x = label_w + j * cell
            shade = 0.08 + 0.92 * n / peak if n else 0
            stroke = ' stroke="#1d232e" stroke-width="2"' if label == cols[j] else ""
            out.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                       f'fill="{AFTER}" fill-opacity="{shade:.3f}"{stroke}>'
                       f"<title>{_e(label)} → {_e(cols[j])}: {n}</title></rect>")
            colour = "#fff" if shade > 0.55 else "#1d232e"
            out.append(f'<text x="{x + cell / 2 - 1:.0f}" y="{y + cell / 2 + 4:.0f}" '
                       f'text-anchor="middle" fill="{colour}">{n}</text>')
    return (f"<h2>{_e(title)}</h2><p>{m['changed']} member(s) moved (off the outlined "
            f'diagonal).</p><svg role="img" aria-label="{_e(title)} heat map" '
            f'viewBox="0 0 {width} {height}" width="{min(width, 1000)}">{"".join(out)}</svg>')


def _short(label: str | None, chars: int = 11) -> str | None:
    """A level name cut to fit its column (the whole name is in the cell's tooltip)."""
    if label is None or len(label) <= chars:
        return label
    return label[:chars - 1] + "…"


def _perks(r: dict[str, Any]) -> str:
    perks = r["perks"]
    if not perks:
        return ""
    row_h, label_w, width = 34, 220, 900
    peak = max([max(p["holders_before"], p["holders_after"]) for p in perks] + [1])
    span = width - label_w - 160
    out = []
    for i, p in enumerate(perks):
        y = i * row_h + 4
        out.append(f'<text x="0" y="{y + 16}">{_e(_short(p["id"], 32))}'
                   f'<title>{_e(p["label"])}</title></text>')
        for j, (count, colour) in enumerate(((p["holders_before"], BEFORE),
                                             (p["holders_after"], AFTER))):
            w = span * count / peak
            out.append(f'<rect x="{label_w}" y="{y + j * 13}" width="{w:.1f}" height="12" '
                       f'fill="{colour}"><title>{count} {"before" if j == 0 else "after"}'
                       "</title></rect>")
        out.append(f'<text x="{label_w + span + 8}" y="{y + 16}">'
                   f'<tspan fill="{GAIN}">+{p["gained"]}</tspan> '
                   f'<tspan fill="{LOSS}">−{p["lost"]}</tspan></text>')
    rows = "".join(
        f"<tr><td>{_e(p['id'])}</td><td>{_e(p['label'])}</td><td>{p['holders_before']}"
        f"</td><td>{p['holders_after']}</td><td>+{p['gained']}</td><td>−{p['lost']}</td>"
        "</tr>" for p in perks)
    return ("<h2>Perks</h2>" + _legend()
            + f'<svg role="img" aria-label="perk holders before and after" '
            f'viewBox="0 0 {width} {len(perks) * row_h + 8}" width="100%">{"".join(out)}'
            "</svg><table><tr><th>perk</th><th>label</th><th>before</th><th>after</th>"
            f"<th>gained</th><th>lost</th></tr>{rows}</table>")


def _movers(r: dict[str, Any]) -> str:
    out = []
    for side, title in (("up", "Largest rises"), ("down", "Largest falls")):
        rows = r["movers"][side]
        if rows:
            out.append(f"<h2>{title}</h2><table><tr><th>member</th><th>before</th>"
                       "<th>after</th><th>change</th></tr>" + "".join(
                           f"<tr><td>{_e(m['member'])}</td><td>{m['before']}</td>"
                           f"<td>{m['after']}</td><td>{m['delta']:+d}</td></tr>"
                           for m in rows) + "</table>")
    return "".join(out)


def _fairness(f: dict[str, Any]) -> str:
    c = f["cohorts"]
    out = [f"<h2>Adverse impact by {_e(c['dimension'])}</h2>",
           f'<p class="note">{_e(AUDIT_REMINDER)}</p>',
           f"<p>Cohort file {_e(c['file'])}: {f['matched']} members grouped, "
           f"{f['ungrouped']} folded members not in the file, {f['unknown']} members in "
           f"the file not folded. Groups under {f['min_group']} members are shown but not "
           f"judged. Ratio = the group's rate / the highest rate among judged groups; "
           f"under {f['threshold']} is flagged.</p>"]
    if c["special_category"]:
        out.append(f'<p class="flag">Special category acknowledged: '
                   f"{_e(c['special_category'])}.</p>")
    for p in f["perks"]:
        before = {g["group"]: g for g in p["before"]["groups"]}
        rows = []
        for g in p["after"]["groups"]:
            b = before[g["group"]]
            mark = ('<span class="flag">under 4/5</span>' if g["flagged"] else
                    '<span class="muted">too small to judge</span>' if not g["judged"]
                    else "")
            rows.append(f"<tr><td>{_e(g['group'])}</td><td>{g['members']}</td>"
                        f"<td>{b['rate']:.1%}</td><td>{_e(b['ratio'])}</td>"
                        f"<td>{g['rate']:.1%}</td><td>{_e(g['ratio'])}</td>"
                        f"<td>{mark}</td></tr>")
        out.append(f"<h3>{_e(p['id'])}</h3><table><tr><th>group</th><th>members</th>"
                   "<th>rate before</th><th>ratio</th><th>rate after</th><th>ratio</th>"
                   f"<th></th></tr>{''.join(rows)}</table><p class=\"muted\">Reference "
                   f"(most favoured): {_e(p['after']['reference'])} after, "
                   f"{_e(p['before']['reference'])} before.</p>")
    out.append(f'<p class="note">{_e(FAIRNESS_CAVEAT)}</p>')
    return "".join(out)


__all__ = ["render"]
