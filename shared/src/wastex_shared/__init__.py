"""wastex_shared."""
