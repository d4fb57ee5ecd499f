"""Run the matching service: `python -m wastex_matching` (host and port from settings)."""

from wastex_matching.main import build_app
from wastex_matching.settings import MatchingSettings
from wastex_shared.runtime import serve

if __name__ == "__main__":
    settings = MatchingSettings()
    serve(build_app(settings), settings)
