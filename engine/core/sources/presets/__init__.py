"""Presets for the ticket exports of common helpdesks (YAML files, one per helpdesk), which
`preset: NAME` in a source entry fills its columns and timestamp formats from."""
