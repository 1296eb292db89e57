"""Entry point: `python -m governance`."""

from finops.adapters.http_runtime import run_app
from governance.bootstrap import create_app
from governance.settings import GovernanceSettings


def main() -> None:
    settings = GovernanceSettings()
    run_app(create_app(settings), settings)


if __name__ == "__main__":
    main()
