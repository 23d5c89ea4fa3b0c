"""Provider adapters: one module per protocol, each the only importer of its SDK."""
