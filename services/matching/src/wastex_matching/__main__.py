"""Run the matching service: `python -m wastex_matching` (host and port from settings)."""

from wastex_matching.main import build_app
from wastex_matching.settings import MatchingSettings
from wastex_shared.runtime import main

if __name__ == "__main__":
    main(MatchingSettings, build_app)
