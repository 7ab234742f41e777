"""Follow-up resolution: a context-dependent question becomes a standalone one.

`resolve(question, history)` rewrites a follow-up ("Where?", "What did they talk about?",
"Who controls that area?") into a question that can be searched and read on its own, using
the earlier turns: their resolved questions, their answers, the quotes they cited and the
titles of the documents those came from. A question that needs no context, and a greeting, is
returned unchanged. No generative model is used.

The package, in the order a question meets it:

* `mentions`: typed mentions from spaCy (`Mention`, `Kind`, `Role`; anaphors want a `Want`).
* `analysis`: each turn analysed once (`TurnAnalysis`, plain data kept with the turn):
  its mentions, the events it talks about, the noun phrases of its answer.
* `discourse`: referents and their salience (`Weights` in one dataclass).
* `rewriters`: small rules behind one interface, `rewrite(question, context) -> candidates`:
  `WhatAbout`, `Ellipsis`, `Anaphora`, `TopicPhrase`.
* `resolver`: runs them; the raw question is always a candidate; `selector` picks one with a
  model fitted on CANARD's tuning half, from the rules' preference and, given a first-stage
  search, how well the retrieved passages support each candidate.
"""

from qa.followup.analysis import WEIGHTS, Exchange, TurnAnalysis, Weights, analyse, prime
from qa.followup.mentions import Kind, Mention, Role, Want
from qa.followup.resolver import (
    HISTORY_TURNS,
    Resolution,
    Resolver,
    default_resolver,
    is_greeting,
    may_need_context,
    resolve,
)
from qa.followup.rewriters import Candidate, Context, QuestionAnalysis, Rewriter
from qa.followup.selector import Search, Selector

__all__ = [
    "HISTORY_TURNS", "WEIGHTS", "Candidate", "Context", "Exchange", "Kind", "Mention",
    "QuestionAnalysis", "Resolution", "Resolver", "Rewriter", "Role", "Search", "Selector",
    "TurnAnalysis", "Want", "Weights", "analyse", "default_resolver", "is_greeting",
    "may_need_context", "prime", "resolve",
]
