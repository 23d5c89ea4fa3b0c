"""The JSON-file backend: one file per conversation, an append-only listing index, file locks."""
