"""Run the catalog service: `python -m wastex_catalog` (host and port from settings)."""

from wastex_catalog.main import build_app
from wastex_catalog.settings import CatalogSettings
from wastex_shared.runtime import serve

if __name__ == "__main__":
    settings = CatalogSettings()
    serve(build_app(settings), settings)
