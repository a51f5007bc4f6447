"""CI's A/B gate base (scripts/bench_base.py) on a synthetic history of several sessions:
the record of CI's last pass when it is an ancestor of HEAD; else the newest commit more than
3 h 10 min older than HEAD, never a commit of HEAD's session, the previous session's last one
when sessions are hours apart.
Run with Debian's /usr/bin/python3."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import bench_base  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "bench_base.py")
HOUR = 3600
T0 = 1_800_000_000  # 2027-01-15


class BaseRuleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.repo = self.dir.name
        self.git("init", "-q")
        self.commits = {}

    def tearDown(self):
        self.dir.cleanup()

    def git(self, *args, when=None):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@t")
        if when is not None:
            env.update(GIT_AUTHOR_DATE=f"{when} +0000", GIT_COMMITTER_DATE=f"{when} +0000")
        return subprocess.run(["git", "-C", self.repo, *args], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    def commit(self, name, when):
        self.git("commit", "-q", "--allow-empty", "-m", name, when=when)
        self.commits[name] = self.git("rev-parse", "HEAD")

    def session(self, name, start, count, spacing_minutes=40):
        for i in range(count):
            self.commit(f"{name}.{i}", start + i * spacing_minutes * 60)

    def test_sessions_hours_apart_give_the_previous_sessions_last_commit(self):
        self.session("s1", T0, 4)
        self.session("s2", T0 + 8 * HOUR, 5)
        self.session("s3", T0 + 20 * HOUR, 4)  # HEAD's session: 2 h from its first to its last commit
        base, _ = bench_base.ci_base(self.repo)
        self.assertEqual(base, self.commits["s2.4"])
        self.assertNotIn(base, [self.commits[f"s3.{i}"] for i in range(4)])

    def test_a_session_right_after_another_gives_an_older_landed_commit_never_one_of_its_own(self):
        self.session("s1", T0, 3)
        self.session("s2", T0 + 6 * HOUR, 5)   # +6 h 00 ... +8 h 40
        self.session("s3", T0 + 9 * HOUR, 5)   # 20 minutes later: +9 h 00 ... HEAD at +11 h 40
        base, _ = bench_base.ci_base(self.repo)
        own = [self.commits[f"s3.{i}"] for i in range(5)]
        self.assertNotIn(base, own)
        # HEAD - 3 h 10 min = +8 h 30: s2.3 (+8 h 00) is the newest older one; s2.4 is skipped,
        # an older landed commit, which only widens the comparison.
        self.assertEqual(base, self.commits["s2.3"])

    def test_a_first_session_has_no_base_and_the_script_says_so(self):
        self.session("s1", T0, 3)
        base, why = bench_base.ci_base(self.repo)
        self.assertIsNone(base)
        code, _, err = self.run_script(os.path.join(self.dir.name, "no_record"))
        self.assertEqual(code, 1, err)
        self.assertIn("no commit", err)

    def run_script(self, state):
        # Isolated from the caller's override and record (a local .ci/run sets them).
        env = {k: v for k, v in os.environ.items() if k not in ("PBENCH_BENCH_BASE", "PBENCH_CI_STATE")}
        proc = subprocess.run([sys.executable, SCRIPT, "--repo", self.repo, "--state", state], capture_output=True,
                              text=True, env=env)
        return proc.returncode, proc.stdout.strip(), proc.stderr

    def test_the_record_of_cis_last_pass_wins_over_commit_dates_when_it_is_an_ancestor(self):
        self.session("s1", T0, 3)
        self.session("s2", T0 + 8 * HOUR, 3)   # a session whose CI failed: its commits stay, unlanded
        self.session("s3", T0 + 16 * HOUR, 3)
        state = os.path.join(self.dir.name, "ci_passed")
        with open(state, "w") as f:
            f.write(self.commits["s1.2"] + "\n")  # CI last passed at the end of s1
        code, out, _ = self.run_script(state)
        self.assertEqual((code, out), (0, self.commits["s1.2"]))
        # Not an ancestor (a record from another branch) or absent: commit dates decide (s2's last).
        self.git("checkout", "-q", "-b", "side", self.commits["s1.0"])
        self.commit("side.0", T0 + 1 * HOUR)
        with open(state, "w") as f:
            f.write(self.commits["side.0"] + "\n")
        self.git("checkout", "-q", "-")
        code, out, err = self.run_script(state)
        self.assertEqual((code, out), (0, self.commits["s2.2"]))
        self.assertIn("not an ancestor", err)
        code, out, err = self.run_script(os.path.join(self.dir.name, "absent"))
        self.assertEqual((code, out), (0, self.commits["s2.2"]))
        self.assertIn("no record", err)

    def test_the_environment_overrides_the_rule(self):
        self.session("s1", T0, 3)
        self.session("s2", T0 + 8 * HOUR, 2)
        env = dict(os.environ, PBENCH_BENCH_BASE=self.commits["s1.0"])
        proc = subprocess.run([sys.executable, SCRIPT, "--repo", self.repo], capture_output=True, text=True, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), self.commits["s1.0"])


if __name__ == "__main__":
    unittest.main()
