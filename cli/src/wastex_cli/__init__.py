"""wastex_cli."""
