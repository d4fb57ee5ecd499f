"""wastex_matching."""
