"""Products as STAC: drafts in staging, their per-municipality table, items, publishing."""
