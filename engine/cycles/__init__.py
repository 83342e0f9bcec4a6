"""The cycle lifecycle around the core pipeline: a cycle's run and what happens to it afterwards.

The run with its adjustments, history record and trends; the history
database (publish, restore), appeals and corrections, trends against previous
cycles, what-if under another ruleset, the HR export and ``explain``.
Builds on merit.core only.
"""
