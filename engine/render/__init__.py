"""Rendering: the scorecard PDFs (pdf, charts, and the contexts behind them in context/) and
the expert panel's report.pdf (panel_report).  Builds on the core, the panel and the cycles;
nothing else of merit imports it but the use cases."""
