"""Pre-routing vs cascade vs random routing on RouteLLM's cheap/capable outcomes.

Run ``python -m evals.routellm.run`` from the repository root (see :mod:`evals.routellm.routellm`)."""
