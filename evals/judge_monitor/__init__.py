"""The demo's judge-assisted and review monitors across seeds, and the detection bound of its
design (issue 16)."""
