"""Run the catalog service: `python -m wastex_catalog` (host and port from settings)."""

from wastex_catalog.main import build_app
from wastex_catalog.settings import CatalogSettings
from wastex_shared.runtime import main

if __name__ == "__main__":
    main(CatalogSettings, build_app)
