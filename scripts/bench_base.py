#!/usr/bin/python3
"""The base of CI's A/B benchmark gate: the last commit CI passed on (issue 40).

    scripts/bench_base.py [--repo DIR] [--head REF] [--session-hours H] [--state FILE]

prints the base commit's full hash, or says why there is none (exit 1). In order:

1. PBENCH_BENCH_BASE=REF, when set.
2. The commit CI last passed on, on this machine: .ci/run writes it, after every stage
   passed, to $PBENCH_CI_STATE/ci_passed (default ~/.cache/pbench/ci_passed; CI's clone
   is thrown away, the machine's cache is not). Used when it is an ancestor of HEAD.
3. On a machine with no record: work reaches main in sessions of at most 3 hours, so
   every commit of HEAD's session was made within 3 hours of HEAD, and the newest commit
   whose committer date is more than `session_hours` (3 h plus a 10-minute margin) before
   HEAD's belongs to an earlier session: the head of main before this session, or an
   earlier commit when sessions follow each other closely (an older base only makes the
   comparison cover more commits). Its limit: an earlier session whose CI failed leaves
   its commits on main unlanded, and this rule may then pick one of them, so a
   regression of that session would be in base and head alike. Rule 2 has no such gap.
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


def default_state_dir():
    return os.environ.get("PBENCH_CI_STATE") or os.path.join(os.path.expanduser("~"), ".cache", "pbench")


def recorded_base(repo, head, state_file):
    """(hash, why) from the record of CI's last pass when it is an ancestor of head, else (None, why)."""
    try:
        with open(state_file, encoding="utf-8") as f:
            recorded = f.read().strip()
    except OSError:
        return None, f"no record of CI's last pass ({state_file})"
    known = subprocess.run(["git", "-C", repo, "cat-file", "-e", recorded + "^{commit}"], capture_output=True)
    if not recorded or known.returncode != 0:
        return None, f"{state_file} names {recorded or 'nothing'}, not a commit of this repository"
    ancestor = subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", recorded, head], capture_output=True)
    if ancestor.returncode != 0:
        return None, f"{state_file} names {recorded[:12]}, not an ancestor of {head}"
    return git(repo, "rev-parse", recorded), f"CI's last pass on this machine ({state_file})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--head", default="HEAD")
    ap.add_argument("--session-hours", type=float, default=DEFAULT_SESSION_HOURS)
    ap.add_argument("--state", default="", help="the record of CI's last pass (default $PBENCH_CI_STATE/ci_passed)")
    args = ap.parse_args()
    override = os.environ.get("PBENCH_BENCH_BASE")
    try:
        if override:
            print(git(args.repo, "rev-parse", "--verify", override + "^{commit}"))
            print(f"[bench_base] PBENCH_BENCH_BASE={override}", file=sys.stderr)
            return 0
        found, why = recorded_base(args.repo, args.head, args.state or os.path.join(default_state_dir(), "ci_passed"))
        if found is None:
            print(f"[bench_base] {why}; by commit dates instead", file=sys.stderr)
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
