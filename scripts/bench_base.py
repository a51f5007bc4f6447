#!/usr/bin/python3
"""The base of CI's A/B benchmark gate: the last commit CI passed on (issue 40).

    scripts/bench_base.py [--repo DIR] [--head REF] [--session-hours H]

prints the base commit's full hash, or says why there is none (exit 1).

How it is found, without anything stored: work reaches main in sessions of at most
3 hours, and a session's commits stay on main only if CI passes on its last one
(a session whose CI fails lands nothing). So every commit of main older than the
current session has passed CI, and every commit of the current session was made
within 3 hours of HEAD. The base is therefore the newest commit whose committer date
is more than `session_hours` (3 h plus a 10-minute margin) before HEAD's: the head of
main before this session (the previous head, when sessions are more than 3 h apart),
or an earlier commit that also passed CI when sessions follow each other closely. An
older base only makes the comparison cover more commits; it never lets a regression
of this session through. PBENCH_BENCH_BASE=REF overrides the rule.
"""
import argparse
import datetime
import os
import subprocess
import sys

DEFAULT_SESSION_HOURS = 3.0 + 10.0 / 60.0


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True).stdout.strip()


def ci_base(repo, head="HEAD", session_hours=DEFAULT_SESSION_HOURS):
    """(hash, why): the newest ancestor of `head` committed more than session_hours before it, or (None, why)."""
    head_time = int(git(repo, "log", "-1", "--format=%ct", head))
    cutoff = head_time - int(session_hours * 3600)
    found = git(repo, "rev-list", "-1", f"--before={cutoff}", head)
    if not found:
        when = datetime.datetime.fromtimestamp(cutoff, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return None, f"no commit of {head} is older than {when} ({session_hours:.2f} h before it)"
    return found, f"the newest commit more than {session_hours:.2f} h older than {head}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--head", default="HEAD")
    ap.add_argument("--session-hours", type=float, default=DEFAULT_SESSION_HOURS)
    args = ap.parse_args()
    override = os.environ.get("PBENCH_BENCH_BASE")
    try:
        if override:
            print(git(args.repo, "rev-parse", "--verify", override + "^{commit}"))
            print(f"[bench_base] PBENCH_BENCH_BASE={override}", file=sys.stderr)
            return 0
        found, why = ci_base(args.repo, args.head, args.session_hours)
    except subprocess.CalledProcessError as e:
        print(f"bench_base: error: git {' '.join(e.cmd[3:])}: {e.stderr.strip()}", file=sys.stderr)
        return 2
    if found is None:
        print(f"[bench_base] {why}", file=sys.stderr)
        return 1
    print(found)
    print(f"[bench_base] {found[:12]}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
