"""The web layer: the only code that imports Flask. Routes, errors, security hooks, the CLI."""
