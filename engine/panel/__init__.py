"""The expert panel."""
