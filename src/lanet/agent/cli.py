"""``lanet-agent`` command line."""

import argparse
import sys
from collections.abc import Sequence

import lanet


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanet-agent", description="LANET endpoint agent")
    parser.add_argument("--version", action="version", version=f"lanet-agent {lanet.__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
