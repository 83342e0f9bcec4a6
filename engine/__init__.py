"""merit's engine: load → validate → compile → evaluate → score → render.

The engine never prints; the CLI in ``cli/`` is a thin shell over it.
"""

__version__ = "0.1.0"
