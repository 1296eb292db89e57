"""Entry point: `python -m api`."""

from api.bootstrap import create_app
from api.settings import ApiSettings
from finops.adapters.http_runtime import run_app


def main() -> None:
    settings = ApiSettings()
    run_app(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
