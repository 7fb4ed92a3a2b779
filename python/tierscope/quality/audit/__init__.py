"""The per-tier audit of a decision log (:func:`audit`), in named steps.

:mod:`.run` holds :func:`audit`, which calls the steps in order:

1. :mod:`.frame`: check the arguments, load the window's decisions and join their outcomes;
2. :mod:`.quality`: review verdicts and per-tier quality (window, day, week; blended view);
3. :mod:`.monitors`: sequential per-tier quality monitors and their history;
4. :mod:`.shadow`: the shadow gap cheap − capable, and its monitors;
5. :mod:`.feedback`: thumbs feedback and human-support contacts;
6. :mod:`.drift`: routing-confidence drift against training and the baseline window, escalation rate;
7. :mod:`.costs`: total cost, routed against everything on the capable tier.

The result is an :class:`~tierscope.quality.report.AuditReport` (the report never imports the audit).
"""

from __future__ import annotations

from .run import audit

__all__ = ["audit"]
