"""Reading rulebook YAML with positions, so every error can name its line.

ruamel.yaml (YAML 1.2: ``on`` and ``no`` stay strings) keeps the line of every key and list
item; :class:`Source` turns a path such as ``("points", "rules", 0, "award")`` into
``rulebook.yaml:31``. Duplicate keys are refused by the parser, never silently merged.

A rulebook arrives over the API from anyone holding an admin key, so the loader also
refuses, before building anything, what would let a small document cost minutes:

* anchors and aliases: a "billion laughs" document of nine nested aliases is 324 bytes
  and ~400 million nodes once anything walks it. A rulebook never needs them, and
  without them every node is written out once, so work is bounded by the text's size;
* nesting deeper than :data:`MAX_DEPTH` (composing recurses per level: a line of
  100,000 ``[`` reached Python's recursion limit after seconds);
* more than :data:`MAX_NODES` nodes, and lines longer than :data:`MAX_LINE` characters
  (ruamel's pure-Python scanner reads a long comment line in quadratic time: a 1 MB
  comment took 11 s, while a megabyte of ordinary lines takes half a second).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.scanner import RoundTripScanner

from plaudit.domain.errors import Problem, RulebookError

MAX_RULEBOOK_BYTES = 1_000_000
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists; a real rulebook needs about six."""
MAX_NODES = 10_000
"""Most YAML nodes (keys, values, list items) in one rulebook: the sesame-style example
has ~450; composing 10,000 takes about half a second."""
MAX_LINE = 10_000
"""Longest line, in characters."""

NO_ALIASES = "YAML anchors and aliases are not allowed: write each value out in full"


class _Refused(Exception):
    """A node the composer will not build; ``line`` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(reason)


class _StrictScanner(RoundTripScanner):
    """Refuses flow nesting (``[`` / ``{``) deeper than :data:`MAX_DEPTH` as it reads it.

    The composer would refuse it too, but only after the scanner's look-ahead for a
    possible ``key:`` after each bracket had read ~1,000 of them, costing a second for a
    line of ``[[[[…``; here the 65th bracket ends the read.
    """

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(self.reader.line + 1, f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass, to_push)


class _StrictComposer(Composer):
    """ruamel's composer, refusing anchors, aliases, deep nesting and too many nodes as it
    meets them: it runs before the constructor, so a refused document never becomes
    Python objects, and it stops at the first offending node."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(line, NO_ALIASES)
        if self._depth >= MAX_DEPTH:
            raise _Refused(line, f"nested deeper than {MAX_DEPTH} levels")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(line, f"more than {MAX_NODES} YAML nodes (keys, values and "
                                 "list items)")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Constructor(RoundTripConstructor):
    """Bare dates and times (``2027-03-01``) stay the text written: the section that reads
    one checks it and names its line (ruamel would refuse ``2027-02-30`` without a line,
    and turn ``2027-3-1`` into ``2027-03-01`` silently)."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


class Source:
    """A parsed rulebook document and the way back from a path to its line."""

    def __init__(self, text: str, name: str = "rulebook.yaml") -> None:
        self.name = name
        self.text = text
        if len(text.encode()) > MAX_RULEBOOK_BYTES:
            raise RulebookError([Problem(name, "", f"larger than {MAX_RULEBOOK_BYTES} bytes")])
        for number, text_line in enumerate(text.splitlines(), 1):
            if len(text_line) > MAX_LINE:
                raise RulebookError([Problem(f"{name}:{number}", "",
                                             f"line longer than {MAX_LINE} characters")])
        yaml = YAML(typ="rt")
        yaml.version = (1, 2)
        yaml.allow_duplicate_keys = False
        yaml.Constructor = _Constructor
        yaml.Scanner = _StrictScanner
        yaml.Composer = _StrictComposer
        try:
            self.document: Any = yaml.load(text)
        except _Refused as e:
            raise RulebookError([Problem(f"{name}:{e.line}", "", e.reason)]) from None
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise RulebookError([Problem(f"{name}:{line}", "",
                                         f"not valid YAML: {e.problem or e.context}")]) from None
        except Exception as e:  # ruamel raises a few unmarked errors (duplicate keys)
            raise RulebookError([Problem(name, "", f"not valid YAML: {e}")]) from None
        if not isinstance(self.document, CommentedMap):
            raise RulebookError([Problem(f"{name}:1", "", "a rulebook is a YAML mapping")])

    def plain(self) -> Any:
        """The document as plain dicts, lists and scalars (what pydantic validates)."""
        return _plain(self.document)

    def line(self, path: Sequence[Any]) -> int:
        """1-based line of the deepest node on ``path`` that exists."""
        node: Any = self.document
        line = 1
        for part in path:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) \
                    and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line

    def where(self, path: Sequence[Any]) -> str:
        return f"{self.name}:{self.line(path)}"


def dotted(path: Sequence[Any]) -> str:
    """``("points", "rules", 0, "award")`` -> ``points.rules[0].award``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if hasattr(node, "isoformat"):  # a bare YAML date such as 2027-03-01
        return node.isoformat()
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


__all__ = ["Source", "dotted"]
