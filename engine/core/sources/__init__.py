"""Sources: a table read from an organisation's own export as it is (cycle.yaml's `sources:`).

A source names its file, encoding, sheet and timestamp formats, and maps contract columns to the
export's headers, value maps, agent-name matches or expressions (spec, preset); mapping turns an
entry into the SQL the loader types (Source.values), encoding transcodes text files to UTF-8.
"""
