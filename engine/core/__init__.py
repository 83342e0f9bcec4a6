"""The core pipeline."""
