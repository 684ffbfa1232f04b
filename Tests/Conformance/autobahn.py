#!/usr/bin/env python3
"""The Autobahn WebSocket test cases, run by kosoku (PyPI; Autobahn's own runner needs Python 2),
against a server that echoes text messages.

    autobahn.py URL REPORT_DIR [--cases GLOB ...]

Writes kosoku's Autobahn-format report (index.json and one HTML page per case) to REPORT_DIR, prints
one line per verdict, and exits 1 when a case ends in a verdict other than the allowed ones:
OK, NON-STRICT, INFORMATIONAL and UNIMPLEMENTED, plus the deviations listed in DEVIATIONS, each with
its reason. A deviation that no longer happens is reported too, so that the list stays true.
"""
import argparse
import asyncio
import collections
import fnmatch
import sys
from pathlib import Path

from kosoku import FailureError, run_fuzzingclient
from kosoku._report import write_reports

ALLOWED = {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED"}

# Cases whose verdict differs from Autobahn's, with the reason (docs/RELIABILITY.md).
BINARY = "binary messages are refused with close 1003 (the protocol is JSON text), not echoed"
DEVIATIONS = {
    "1.2.*": BINARY,
    "9.2.*": BINARY,
    "9.4.*": BINARY,
    "9.6.*": BINARY,
    "9.8.*": BINARY,
    "13.7.*": "lws 4.1 drops a handshake whose Sec-WebSocket-Extensions is longer than 255 bytes "
    "(three deflate offers with parameters); browsers send about 40",
    "2.10": "lws 4.1 answers the first of pings that come while its pong is pending and drops the rest "
    "(RFC 6455 5.5.3 allows answering only the most recent)",
    "2.11": "as 2.10, with the pings sent an octet at a time",
}
# Of these, the ones that depend on timing (whether the pings arrive while a pong is pending):
# they may pass, and their passing is not reported as a stale deviation.
SOMETIMES = {"2.10", "2.11"}


def deviation(case_id):
    for pattern, reason in DEVIATIONS.items():
        if fnmatch.fnmatchcase(case_id, pattern):
            return reason
    return None


def verdict(result):
    return str(result.behavior).split(".")[-1].replace("_", "-"), str(result.behavior_close).split(".")[-1].replace("_", "-")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("report")
    parser.add_argument("--cases", nargs="*", default=None)
    parser.add_argument("--exclude", nargs="*", default=[])
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args()
    try:
        results = await run_fuzzingclient(args.url, args.cases, args.exclude or None, concurrency=args.parallelism)
    except FailureError as failure:
        results = failure.results
    Path(args.report).mkdir(parents=True, exist_ok=True)
    write_reports(results, args.report)

    counts = collections.Counter()
    unexpected, explained = [], collections.defaultdict(list)
    for result in results:
        behavior, close = verdict(result)
        counts[(behavior, close)] += 1
        good = behavior in ALLOWED and close in ALLOWED
        reason = deviation(result.case_id)
        if good:
            continue
        if reason:
            explained[reason].append(result.case_id)
        else:
            unexpected.append(f"{result.case_id}: {behavior} / close {close}")
    print(f"{len(results)} cases against {args.url}")
    for (behavior, close), count in sorted(counts.items()):
        print(f"  {count:4d}  {behavior} / close {close}")
    for reason, cases in explained.items():
        print(f"  explained ({len(cases)}): {reason}: {', '.join(cases)}")
    for line in unexpected:
        print(f"  UNEXPECTED {line}")
    ran = {result.case_id for result in results}
    stale = [
        pattern
        for pattern, reason in DEVIATIONS.items()
        if pattern not in SOMETIMES
        and any(fnmatch.fnmatchcase(case, pattern) for case in ran)
        and not any(fnmatch.fnmatchcase(case, pattern) for cases in explained.values() for case in cases)
    ]
    for pattern in stale:
        print(f"  NO LONGER DEVIATES {pattern}: take it off DEVIATIONS and docs/RELIABILITY.md")
    return 1 if unexpected or stale else 0


sys.exit(asyncio.run(main()))
