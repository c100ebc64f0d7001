"""``python -m benchmarks SUITE [--out FILE.json] [--quick]``: run a suite, print a table, write JSON."""

from __future__ import annotations

import argparse
import json
import sys

from . import check_records, discover, format_table


def main(argv: list[str] | None = None) -> int:
    suites = discover()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suite", choices=[*sorted(suites), "all"])
    parser.add_argument("--out", help="write the records to this JSON file")
    parser.add_argument("--quick", action="store_true", help="smallest configuration (a smoke run, not a result)")
    args = parser.parse_args(argv)
    names = sorted(suites) if args.suite == "all" else [args.suite]
    records: list[dict] = []
    for name in names:
        recs = suites[name](args.quick)
        check_records(recs)
        records.extend(recs)
        print(format_table(recs), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(records, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
