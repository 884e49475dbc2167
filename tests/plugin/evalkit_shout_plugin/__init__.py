"""A plugin written from docs/architecture.md only: one provider, one task, registered by entry points."""
