"""The ledger's pure rules: entries, balance identity, rates, manifests, zero-waste rules.

No I/O, no frameworks: dataclasses and Decimal only.
"""
