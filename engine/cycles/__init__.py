"""The cycle lifecycle."""
