"""Actions: what a command does, between the CLI (options, printing) and the lower layers."""
