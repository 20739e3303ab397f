"""What every room needs and nothing in it is about the model: safe output folders (``outdir``),
atomic writing with provenance (``storage``), process supervision (``processes``) and the
scenario library's listing (``library``).

Uses only ``migov.model``.
"""
