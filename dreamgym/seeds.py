"""The one registry of episode seeds, shared by every world: each use of episodes draws from its own range.

Each purpose owns ``SPAN`` consecutive seeds starting at its base, so the ranges are disjoint
by construction: an episode used for training can never be a held-out, benchmark, demo or
evaluation episode. Code asks for ``seeds.base("demo")`` or ``seeds.seed("training", i)``
instead of writing a number.

========================  ===========  ==============================================
purpose                   base         used by
========================  ===========  ==============================================
``training``              0            the dataset the embedded push-64 was trained on
``heldout``               10,000,000   fidelity and video-metric benchmarks
``planning_benchmark``    20,000,000   benchmarks/planning.py, candidate_ranking.py
``demo``                  30,000,000   examples/mpc_demo.py (``make demo``)
``evaluation``            40,000,000   policy evaluation (dreamgym.evaluation, examples)
``replan_benchmark``      50,000,000   benchmarks/replan_bench.py
``policy_benchmark``      60,000,000   benchmarks/policy_bench.py
``examples``              70,000,000   source episodes of examples/augment.py
``tests``                 80,000,000   the test suite's golden sets
========================  ===========  ==============================================
"""

from __future__ import annotations

from engine.validation import as_int

SPAN = 10_000_000
PURPOSES = (
    "training",
    "heldout",
    "planning_benchmark",
    "demo",
    "evaluation",
    "replan_benchmark",
    "policy_benchmark",
    "examples",
    "tests",
)
BASES = {name: i * SPAN for i, name in enumerate(PURPOSES)}


def base(purpose: str) -> int:
    """First seed of ``purpose``'s range."""
    if purpose not in BASES:
        raise ValueError(f"seed purpose must be one of {list(PURPOSES)}, got {purpose!r}")
    return BASES[purpose]


def seed(purpose: str, index: int) -> int:
    """Seed number ``index`` (0 <= index < SPAN) of ``purpose``'s range."""
    index = as_int(index, "seed index", low=0, high=SPAN, high_open=True)
    return base(purpose) + index


def purpose_of(value: int) -> str:
    """The purpose whose range holds the seed ``value`` (ValueError outside every range)."""
    value = as_int(value, "seed", low=0, high=SPAN * len(PURPOSES), high_open=True)
    return PURPOSES[value // SPAN]
