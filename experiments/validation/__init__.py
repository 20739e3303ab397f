"""``migov validate``: the model's replicates set beside published stylised facts (issue #12, item 8)."""
