"""The data behind each scorecard PDF, as plain dicts (built in the main process).

One context per agent and one per team, holding display-ready text (numbers
formatted once, :mod:`.formatting`) and charts as SVG, so templates stay simple
and a context's hash says whether its PDF must be rendered again.  Modules:
:mod:`.builder` (the cycle's shared state), :mod:`.agent` and :mod:`.team` (the
contexts), :mod:`.records` (record queries), :mod:`.wording` (the ruleset in
words), :mod:`.peers` and :mod:`.privacy` (what an agent may see of colleagues).
"""

from merit.render.context.builder import ContextBuilder
from merit.render.context.privacy import ColleagueMask

__all__ = ["ColleagueMask", "ContextBuilder"]
