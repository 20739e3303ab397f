"""Small builders shared by the claims tests: a claim entry's required source and basis."""

SOURCE = {"seed": "x", "passage": "y"}
BASIS = {"basis": "emergent", "mechanisms": ["funding.choose_grants"]}
