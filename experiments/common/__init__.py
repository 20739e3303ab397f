"""What every room needs and nothing in it is about the model: safe output folders (``outdir``),
atomic writing with provenance (``storage``), process supervision (``processes``), the
scenario library's listing (``library``) and how every figure looks (``style``).

Uses only ``migov.model``.
"""
