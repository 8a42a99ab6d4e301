"""How an answer is scored: value spans, matching, metrics, the paired bootstrap, reports, misses
and curves. :mod:`eval.scoring.scorer` is the one scorer everything else calls."""
