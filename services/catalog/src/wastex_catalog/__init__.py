"""wastex_catalog."""
