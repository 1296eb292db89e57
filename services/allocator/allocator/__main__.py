"""Entry point: `python -m allocator`."""

from allocator import gcpolicy
from allocator.bootstrap import create_app
from allocator.settings import AllocatorSettings
from finops.adapters.http_runtime import run_app


def main() -> None:
    gcpolicy.relax()
    settings = AllocatorSettings()
    run_app(create_app(settings), settings)


if __name__ == "__main__":
    main()
