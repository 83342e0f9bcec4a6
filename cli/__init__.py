"""The `merit` command line: argument parsing, printing and exit codes over merit.usecases."""
