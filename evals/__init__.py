"""Research evaluations run against ``../shared/data``; not part of the tierscope wheel."""
