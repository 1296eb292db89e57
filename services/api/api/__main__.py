"""Entry point: `python -m api`."""

from api.bootstrap import create_app
from api.settings import ApiSettings
from finops.adapters.http_runtime import run_app


def main() -> None:
    settings = ApiSettings()
    run_app(create_app(settings), settings)


if __name__ == "__main__":
    main()
