"""The core pipeline: load → validate → compile → evaluate → score → write ``out/``.

The workspace and its input contract, the typed tables, the expression
language, rulesets and their compiler, cohorts, aggregation, evaluation,
scoring and outputs; and the plumbing every writer shares (errors, YAML with
positions, the atomic writer, the lock).  It imports nothing else of merit.
"""
