"""wastex_ledger."""
