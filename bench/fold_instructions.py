"""The fold's cost in instructions, for a comparison the machine's noise cannot blur.

Wall-clock figures on a shared 2-core machine move by ±15 % between runs; instruction
counts under valgrind's callgrind repeat to ~0.5 %. Folds N synthetic sesame-style events
(every member from scratch, plus its stored summary) under one variant of the example
rulebook, so that callgrind's total for each variant, minus the total of ``none`` (the same
process without folding), is the fold's own count:

    python bench/fold_instructions.py prepare --events 30000
    for v in none without-play full; do
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
            "$(python -c 'import sys; print(sys.executable)')" \\
            bench/fold_instructions.py run $v 2>&1 | grep Collected
    done

(The python on PATH may be a shell shim; callgrind must be given the interpreter itself.)
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import foldcost
import ingest

from plaudit.domain.fold import MemberFold
from plaudit.rulebook import load_rulebook

EVENTS = Path(tempfile.gettempdir()) / "plaudit-fold-instructions.pkl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("variant", nargs="?", default="full",
                        choices=["none", "without-play", "full"])
    parser.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()
    text = (ingest.ROOT / "examples" / "sesame-style.yaml").read_text()
    if args.step == "prepare":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.jsonl"
            ingest.write_events(path, args.events, max(10, args.events // 100))
            by_member = foldcost.load_events(path, load_rulebook(ingest.without_play(text)))
        EVENTS.write_bytes(pickle.dumps(by_member))
        print(f"{args.events:,} events written to {EVENTS}")
        return
    by_member = pickle.loads(EVENTS.read_bytes())
    full = load_rulebook(text)  # both compiled in every variant: only the fold differs
    bare = load_rulebook(ingest.without_play(text))
    if args.variant == "none":
        return
    rb = full if args.variant == "full" else bare
    for member, events in by_member.items():
        acc = MemberFold(rb, member)
        for e in events:
            acc.apply(e)
        acc.summary(events[-1].at_us)


if __name__ == "__main__":
    main()
