"""The expert panel: who grades which knowledge items, and what their grades amount to.

``panel.yaml`` and the assignment of items to panelists, the grading sheets
(written and read back), collecting returned sheets into ``grades.csv``, the
agreement statistics and the one final-grade rule, the report's data.
Builds on merit.core only.
"""
