"""Entry point: `python -m ingest`."""

from finops.adapters.http_runtime import run_app
from ingest.bootstrap import create_app
from ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    run_app(create_app(settings), settings)


if __name__ == "__main__":
    main()
