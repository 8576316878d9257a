#!/usr/bin/env python3
"""End to end: python_participant.py, written from docs/protocol.md alone, against the real
coordinator. Starts nats-server, txc-coordinator and two participants ("alpha", "beta") on free
ports in a temp dir, drives transactions through the REST API and checks the outcome both in the
coordinator and in each participant's own SQLite database.

    python3 tests/e2e/python_participant_test.py --coordinator PATH [--keep] [-k PATTERN]

PATH is e.g. build/release/coordinator/txc-coordinator; --keep keeps the temp dir (logs,
databases); -k runs the tests whose names contain PATTERN.
"""

import argparse
import concurrent.futures
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # runs from the source tree: leave no __pycache__ there
sys.path.insert(0, HERE)
import mini_nats  # noqa: E402

COORDINATOR = None  # set from --coordinator
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
# Fast enough for a test, and the prepare/action deadlines used below (500 ms) stay shorter than
# one reply timeout, so a dropped request is never re-sent before the deadline passes.
COORDINATOR_FLAGS = ["--reply-timeout-ms", "1000", "--backoff-cap-ms", "1000", "--nats-api", "true"]
PARTICIPANT_FLAGS = ["--in-doubt-after-ms", "1000", "--status-interval-ms", "200"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Children must not outlive a test run that is itself killed (e.g. by a ctest timeout).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_for(cond, what, timeout=10.0):
    """Polls cond() until it returns something truthy; fails the run after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


def new_gid():
    return uuid.uuid4().hex


class Cluster:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="txc-pyp-")
        self.procs = {}
        self.nats_url = "nats://127.0.0.1:%d" % free_port()
        self.http = "http://127.0.0.1:%d" % free_port()
        self.nc = None

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, key, argv, env=None):
        logf = open(os.path.join(self.tmp, key + ".log"), "ab")
        self.procs[key] = subprocess.Popen(
            argv, stdout=logf, stderr=subprocess.STDOUT, cwd=self.tmp,
            env=dict(os.environ, **(env or {})), preexec_fn=_die_with_parent)
        logf.close()
        return self.procs[key]

    def start_nats(self):
        port = self.nats_url.rsplit(":", 1)[1]
        self._spawn("nats", [NATS_SERVER, "-a", "127.0.0.1", "-p", port])

        def connected():
            try:
                self.nc = mini_nats.Client(self.nats_url, name="test")
                return True
            except OSError:
                return False
        wait_for(connected, "nats-server to accept connections")

    def start_coordinator(self, env=None, ready=True):
        self._spawn("coordinator", [COORDINATOR, "--nats-url", self.nats_url,
                                    "--http-addr", self.http[len("http://"):],
                                    "--db-path", os.path.join(self.tmp, "txc.db")]
                    + COORDINATOR_FLAGS, env)
        if ready:
            wait_for(lambda: self.request("GET", "/readyz")[0] == 200, "coordinator /readyz")

    def start_participant(self, name, key=None):
        """Starts (or restarts) a participant; `key` names a second instance of one name."""
        key = key or name
        log_start = len(self.log_text(key))
        self._spawn(key, [sys.executable, os.path.join(HERE, "python_participant.py"),
                          "--nats-url", self.nats_url, "--name", name,
                          "--db", self.db_path(name)] + PARTICIPANT_FLAGS)

        def subscribed():  # logged after a flush: the server has the subscription
            if self.procs[key].poll() is not None:
                raise AssertionError("participant %s exited: %s" % (key, self.log_tail(key)))
            return "] subscribed\n" in self.log_text(key)[log_start:]
        wait_for(subscribed, "participant %s to subscribe" % key)

    def kill(self, key, sig=signal.SIGKILL):
        proc = self.procs[key]
        if proc.poll() is None:
            proc.send_signal(sig)
        return proc.wait(timeout=10)

    def stop_all(self):
        if self.nc:
            self.nc.close()
        for key in sorted(self.procs, key=lambda k: k == "nats"):  # nats-server last
            proc = self.procs[key]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def log_text(self, key):
        try:
            with open(os.path.join(self.tmp, key + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def instance_id(self, key):
        """The instance id the participant process `key` announced last (it logs it at start)."""
        ids = [line.rsplit(" ", 1)[1] for line in self.log_text(key).splitlines()
               if "] instance " in line]
        return ids[-1] if ids else None

    def log_tail(self, key, lines=40):
        return "".join(self.log_text(key).splitlines(True)[-lines:])

    # -- REST --------------------------------------------------------------------------------

    def request(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")
        except (OSError, http.client.HTTPException, ValueError):
            return None, None  # e.g. the coordinator died mid-answer (crash-point tests)

    def post(self, protocol, branches, timeout_ms=5000, wait=True):
        status, tx = self.request("POST", "/v1/transactions" + ("?wait=true" if wait else ""),
                                  {"protocol": protocol, "timeout_ms": timeout_ms,
                                   "branches": branches})
        assert status == 201, (status, tx)
        return tx

    def get(self, gid):
        status, tx = self.request("GET", "/v1/transactions/" + gid)
        assert status == 200, (status, tx)
        return tx

    def wait_terminal(self, gid, timeout=10.0):
        return wait_for(lambda: (lambda tx: tx if tx["terminal"] else None)(self.get(gid)),
                        "transaction %s to end" % gid, timeout)

    def begin_over_nats(self, body, headers):
        """A start request on txc.coordinator.begin (docs/protocol.md): (Txc-Status, body)."""
        msg = self.nc.request("txc.coordinator.begin", json.dumps(body), timeout=15,
                              headers=headers)
        return int(msg.headers["Txc-Status"]), msg.json()

    # -- participants' databases -------------------------------------------------------------

    def db_path(self, name):
        return os.path.join(self.tmp, name + ".db")

    def query(self, name, sql, *args):
        db = sqlite3.connect(self.db_path(name), timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def record(self, name, gid, branch):
        rows = self.query(name, "SELECT state, resolved_by FROM txc_branch "
                          "WHERE gid=? AND branch=?", gid, branch)
        return rows[0] if rows else (None, None)

    def journal(self, name, gid, branch):
        return [op for (op,) in self.query(
            name, "SELECT op FROM journal WHERE gid=? AND branch=? ORDER BY seq", gid, branch)]

    def balance(self, name, account):
        rows = self.query(name, "SELECT balance FROM balances WHERE account=?", account)
        return rows[0][0] if rows else 0

    def holds(self, name, gid):
        return self.query(name, "SELECT branch, account, amount FROM holds WHERE gid=?", gid)

    # -- acting as the coordinator, to send duplicates and late requests ---------------------

    def send(self, name, gid, branch, protocol, op, payload, attempt=1):
        req = {"v": 1, "gid": gid, "branch": branch, "participant": name, "protocol": protocol,
               "op": op, "attempt": attempt, "payload": payload}
        return self.nc.request("txc.participant.%s.%s" % (name, op), json.dumps(req),
                               timeout=5).json()


CLUSTER = None


class ParticipantE2e(unittest.TestCase):
    c = None

    @classmethod
    def setUpClass(cls):
        cls.c = CLUSTER

    @classmethod
    def tearDownClass(cls):
        # Every transaction above has ended: nothing may be left held or in doubt anywhere.
        for name in ("alpha", "beta"):
            left = cls.c.query(name, "SELECT gid, branch, state FROM txc_branch "
                               "WHERE state IN ('prepared', 'precommitted')")
            held = cls.c.query(name, "SELECT gid, branch FROM holds")
            assert not left and not held, (name, left, held)

    def acct(self):
        return "acct-" + uuid.uuid4().hex[:8]

    def assertBranch(self, name, gid, branch, state, journal, resolved_by="coordinator"):
        rec_state, rec_by = self.c.record(name, gid, branch)
        self.assertEqual(rec_state, state, "%s's record of %s/%d" % (name, gid, branch))
        if resolved_by and state in ("committed", "aborted", "compensated"):
            self.assertEqual(rec_by, resolved_by, "how %s resolved %s/%d" % (name, gid, branch))
        self.assertEqual(self.c.journal(name, gid, branch), journal,
                         "business logic %s ran for %s/%d" % (name, gid, branch))

    def assertTx(self, tx, state, branch_states):
        self.assertEqual(tx["state"], state, tx.get("reason"))
        self.assertEqual([b["state"] for b in tx["branches"]], branch_states, tx)

    def assertSettled(self, gid):
        """Nothing left held or in doubt for gid at either participant."""
        for name in ("alpha", "beta"):
            self.assertEqual(self.c.holds(name, gid), [], name)
            self.assertEqual(self.c.query(name, "SELECT branch, state FROM txc_branch WHERE gid=? "
                                          "AND state IN ('prepared', 'precommitted')", gid), [])

    # -- 2PC ---------------------------------------------------------------------------------

    def test_2pc_commit(self):
        a, b = self.acct(), self.acct()
        tx = self.c.post("2pc", [{"participant": "alpha", "payload": {"account": a, "amount": 7}},
                                 {"participant": "beta", "payload": {"account": b, "amount": -7}}])
        self.assertEqual(tx["state"], "committed")
        self.assertTx(self.c.get(tx["id"]), "committed", ["committed", "committed"])
        self.assertBranch("alpha", tx["id"], 0, "committed", ["hold", "apply"])
        self.assertBranch("beta", tx["id"], 1, "committed", ["hold", "apply"])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (7, -7))
        self.assertSettled(tx["id"])

    def test_2pc_abort_on_refusal(self):
        a, b = self.acct(), self.acct()
        tx = self.c.post("2pc", [{"participant": "alpha", "payload": {"account": a, "amount": 7}},
                                 {"participant": "beta",
                                  "payload": {"account": b, "amount": 7, "refuse": ["prepare"]}}])
        self.assertEqual(tx["state"], "aborted")
        got = self.c.get(tx["id"])
        self.assertEqual(got["state"], "aborted")
        self.assertIn("payload says refuse prepare", got["reason"])
        self.assertBranch("alpha", tx["id"], 0, "aborted", ["hold", "release"])
        # A refused vote is recorded (so a late duplicate is refused again) but changes nothing.
        self.assertBranch("beta", tx["id"], 1, "aborted", [], resolved_by=None)
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (0, 0))
        self.assertSettled(tx["id"])

    def test_2pc_abort_before_prepare_is_a_null_rollback_and_the_late_prepare_is_refused(self):
        a, b = self.acct(), self.acct()
        payload = {"account": a, "amount": 4, "drop": {"prepare": 1}}
        tx = self.c.post("2pc", [{"participant": "alpha", "payload": payload},
                                 {"participant": "beta", "payload": {"account": b, "amount": 4}}],
                         timeout_ms=500)
        self.assertEqual(tx["state"], "aborted")
        # The abort found no record: recorded "aborted" without running any business logic.
        self.assertBranch("alpha", tx["id"], 0, "aborted", [])
        self.assertBranch("beta", tx["id"], 1, "aborted", ["hold", "release"])
        # The lost prepare turns up late: refused, and still nothing held.
        late = self.c.send("alpha", tx["id"], 0, "2pc", "prepare", payload, attempt=1)
        self.assertEqual((late["outcome"], late["gid"], late["branch"], late["op"]),
                         ("refused", tx["id"], 0, "prepare"))
        self.assertBranch("alpha", tx["id"], 0, "aborted", [])
        self.assertEqual(self.c.balance("alpha", a), 0)
        self.assertSettled(tx["id"])

    def test_duplicates_run_the_business_logic_once(self):
        gid, a = new_gid(), self.acct()
        payload = {"account": a, "amount": 3}
        # Two copies of one prepare in flight at once, then a duplicated commit, then a stale
        # prepare: every copy is answered ok, the effect happens once.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            votes = list(pool.map(lambda _: self.c.send("alpha", gid, 0, "2pc", "prepare",
                                                        payload), range(2)))
        self.assertEqual([v["outcome"] for v in votes], ["ok", "ok"], votes)
        self.assertEqual(self.c.holds("alpha", gid), [(0, a, 3)])
        for attempt in (1, 2):
            self.assertEqual(self.c.send("alpha", gid, 0, "2pc", "commit", payload,
                                         attempt)["outcome"], "ok")
        self.assertEqual(self.c.send("alpha", gid, 0, "2pc", "prepare", payload, 2)["outcome"],
                         "ok")
        self.assertBranch("alpha", gid, 0, "committed", ["hold", "apply"])
        self.assertEqual(self.c.balance("alpha", a), 3)

        # The same for a saga action and its compensation.
        sgid, s = new_gid(), self.acct()
        for _ in range(2):
            self.assertEqual(self.c.send("beta", sgid, 0, "saga", "action",
                                         {"account": s, "amount": 9})["outcome"], "ok")
        self.assertEqual(self.c.balance("beta", s), 9)
        for _ in range(2):
            self.assertEqual(self.c.send("beta", sgid, 0, "saga", "compensate",
                                         {"account": s, "amount": 9})["outcome"], "ok")
        self.assertBranch("beta", sgid, 0, "compensated", ["action", "undo"])
        self.assertEqual(self.c.balance("beta", s), 0)

    def test_malformed_requests(self):
        gid = new_gid()
        req = {"v": 1, "gid": gid, "branch": 0, "participant": "alpha", "protocol": "2pc",
               "op": "commit", "attempt": 1, "payload": {}}
        # op differs from the subject's last token
        r = self.c.nc.request("txc.participant.alpha.prepare", json.dumps(req), timeout=5).json()
        self.assertEqual(r["outcome"], "error")
        r = self.c.nc.request("txc.participant.alpha.prepare", b"{not json", timeout=5).json()
        self.assertEqual(r["outcome"], "error")
        # No reply subject: ignored. The state query after it is handled after it (one
        # publisher's messages arrive in order, one worker handles them), so it sees the result.
        self.c.nc.publish("txc.participant.alpha.prepare", json.dumps(dict(req, op="prepare")))
        query = json.dumps({"v": 1, "gid": gid, "from": "test"})
        state = self.c.nc.request("txc.participant.alpha.state", query, timeout=5).json()
        self.assertEqual(state, {"v": 1, "gid": gid, "participant": "alpha", "branches": []})
        # A commit with no yes vote is a protocol violation: error, nothing recorded.
        self.assertEqual(self.c.send("alpha", gid, 0, "2pc", "commit", {})["outcome"], "error")
        self.assertEqual(self.c.record("alpha", gid, 0), (None, None))

    def test_in_doubt_branch_asks_the_coordinator_and_hears_presumed_abort(self):
        gid, a = new_gid(), self.acct()  # a gid the coordinator never logged
        self.assertEqual(self.c.send("alpha", gid, 0, "2pc", "prepare",
                                     {"account": a, "amount": 2})["outcome"], "ok")
        self.assertEqual(self.c.holds("alpha", gid), [(0, a, 2)])
        wait_for(lambda: self.c.record("alpha", gid, 0)[0] == "aborted",
                 "alpha to ask txc.coordinator.status and abort", timeout=10)
        self.assertBranch("alpha", gid, 0, "aborted", ["hold", "release"], resolved_by="status")

    def test_2pc_participant_killed_after_voting_yes_resolves_by_status_query(self):
        a, b = self.acct(), self.acct()
        gate = os.path.join(self.c.tmp, "gate-" + uuid.uuid4().hex)
        # beta's prepare is held back until the gate opens, so that nothing is decided while
        # alpha is being killed.
        tx = self.c.post("2pc", [{"participant": "alpha", "payload": {"account": a, "amount": 6}},
                                 {"participant": "beta", "payload": {"account": b, "amount": 6,
                                                                     "gate": {"prepare": gate}}}],
                         timeout_ms=20000, wait=False)
        gid = tx["id"]

        def history(index, op, result=None):
            return [h for h in self.c.get(gid)["branches"][index].get("history", [])
                    if h["op"] == op and (result is None or h["result"] == result)]
        wait_for(lambda: history(0, "prepare", "ok"), "the coordinator to count alpha's yes vote")
        self.assertEqual(self.c.kill("alpha"), -signal.SIGKILL)
        self.assertEqual(self.c.record("alpha", gid, 0)[0], "prepared")

        open(gate, "w").close()
        # A commit send to alpha (failing: nobody is subscribed) shows the decision is logged.
        wait_for(lambda: history(0, "commit"), "the coordinator to decide commit and send it")
        self.assertEqual(self.c.get(gid)["state"], "committing")
        self.assertEqual(self.c.record("alpha", gid, 0)[0], "prepared")

        self.c.start_participant("alpha")
        # Resolved before the restarted participant subscribed, hence by its own status query.
        self.assertBranch("alpha", gid, 0, "committed", ["hold", "apply"], resolved_by="status")
        self.assertTx(self.c.wait_terminal(gid), "committed", ["committed", "committed"])
        self.assertBranch("beta", gid, 1, "committed", ["hold", "apply"])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (6, 6))
        self.assertSettled(gid)

    def test_2pc_instances_of_one_participant_share_its_database(self):
        # A second "alpha" in the same queue group: a commit may reach the other instance than
        # its prepare did, which only works because the records live in the shared database.
        self.c.start_participant("alpha", key="alpha-2")
        try:
            a = self.acct()
            ids = [self.c.post("2pc", [{"participant": "alpha",
                                        "payload": {"account": a, "amount": 1}},
                                       {"participant": "beta", "payload": {}}])["id"]
                   for _ in range(8)]
        finally:
            self.assertEqual(self.c.kill("alpha-2", signal.SIGTERM), 0)
        for gid in ids:
            self.assertEqual(self.c.get(gid)["state"], "committed")
            self.assertBranch("alpha", gid, 0, "committed", ["hold", "apply"])
        self.assertEqual(self.c.balance("alpha", a), 8)

    def test_heartbeats_list_each_instance_and_a_graceful_stop_removes_it_at_once(self):
        def live_instances(name):
            status, body = self.c.request("GET", "/v1/participants")
            self.assertEqual(status, 200, body)
            for p in body["participants"]:
                if p["name"] == name:
                    return {i["id"] for i in p["instances"] if i["live"]}
            return set()
        self.c.start_participant("alpha", key="alpha-2")
        first, second = self.c.instance_id("alpha"), self.c.instance_id("alpha-2")
        self.assertNotEqual(first, second)
        try:
            wait_for(lambda: live_instances("alpha") == {first, second},
                     "both alpha instances to be listed live")
        finally:
            self.assertEqual(self.c.kill("alpha-2", signal.SIGTERM), 0)
        # Its last heartbeat said it was leaving: gone at once, not after the liveness window.
        wait_for(lambda: live_instances("alpha") == {first}, "alpha-2 to be forgotten", timeout=1)

    # -- 3PC ---------------------------------------------------------------------------------

    def test_3pc_commit(self):
        a, b = self.acct(), self.acct()
        tx = self.c.post("3pc", [{"participant": "alpha", "payload": {"account": a, "amount": 1}},
                                 {"participant": "beta", "payload": {"account": b, "amount": 2}}])
        self.assertEqual(tx["state"], "committed")
        got = self.c.get(tx["id"])
        self.assertTx(got, "committed", ["committed", "committed"])
        for br in got["branches"]:
            self.assertEqual([h["op"] for h in br["history"]],
                             ["can_commit", "pre_commit", "do_commit"])
        self.assertBranch("alpha", tx["id"], 0, "committed", ["hold", "pre_commit", "apply"])
        self.assertBranch("beta", tx["id"], 1, "committed", ["hold", "pre_commit", "apply"])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (1, 2))
        self.assertSettled(tx["id"])

    def test_3pc_abort_on_refusal(self):
        a, b = self.acct(), self.acct()
        tx = self.c.post("3pc", [{"participant": "alpha",
                                  "payload": {"account": a, "amount": 1, "refuse": ["can_commit"]}},
                                 {"participant": "beta", "payload": {"account": b, "amount": 2}}])
        self.assertEqual(tx["state"], "aborted")
        self.assertEqual(self.c.get(tx["id"])["state"], "aborted")
        self.assertBranch("alpha", tx["id"], 0, "aborted", [], resolved_by=None)
        self.assertBranch("beta", tx["id"], 1, "aborted", ["hold", "release"])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (0, 0))
        self.assertSettled(tx["id"])

    def _restart_coordinator_crashing_at(self, point):
        self.c.kill("coordinator", signal.SIGTERM)
        self.c.start_coordinator(env={"TXC_CRASH_AT": point})

    def _transfer_3pc_until_the_coordinator_dies(self, a, b):
        """Moves 5 from alpha's account a and beta's b by 3PC; the armed crash point kills the
        coordinator on the way (it may die before it answers)."""
        self.c.request("POST", "/v1/transactions", {
            "protocol": "3pc", "timeout_ms": 5000,
            "branches": [{"participant": "alpha", "payload": {"account": a, "amount": 5}},
                         {"participant": "beta", "payload": {"account": b, "amount": 5}}]})
        self.assertEqual(self.c.procs["coordinator"].wait(timeout=10), -signal.SIGKILL)

    def _find_gid(self, name, account):
        rows = self.c.query(name, "SELECT gid FROM txc_branch WHERE payload LIKE ?",
                            '%"' + account + '"%')
        return rows[0][0] if rows else None

    def test_3pc_coordinator_dies_after_one_pre_commit_participants_commit_among_themselves(self):
        a, b = self.acct(), self.acct()
        self._restart_coordinator_crashing_at("after_send:pre_commit")
        try:
            self._transfer_3pc_until_the_coordinator_dies(a, b)
            # It may have died before answering; the participants' records name the gid.
            gid = wait_for(lambda: self._find_gid("alpha", a), "alpha's record")
            # Only branch 0 got pre_commit. Status queries now meet "no responders", so the
            # participants ask each other: one is precommitted, so both commit.
            wait_for(lambda: (self.c.record("alpha", gid, 0)[0], self.c.record("beta", gid, 1)[0])
                     == ("committed", "committed"), "both to commit through the termination "
                     "protocol", timeout=15)
        finally:
            self.c.kill("coordinator")
            self.c.start_coordinator()
        for name, branch in (("alpha", 0), ("beta", 1)):
            self.assertBranch(name, gid, branch, "committed", ["hold", "pre_commit", "apply"],
                              resolved_by="peers")
        # The restarted coordinator re-sends pre_commit, hears ok, and commits too.
        self.assertTx(self.c.wait_terminal(gid), "committed", ["committed", "committed"])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (5, 5))
        self.assertSettled(gid)

    def test_3pc_coordinator_dies_before_any_pre_commit_participants_abort(self):
        a, b = self.acct(), self.acct()
        self._restart_coordinator_crashing_at("after_send:can_commit@2")
        try:
            self._transfer_3pc_until_the_coordinator_dies(a, b)
            gid = wait_for(lambda: self._find_gid("alpha", a) and self._find_gid("beta", b),
                           "both participants' records")
            # Every branch uncertain and everyone answered: nobody can have committed.
            wait_for(lambda: (self.c.record("alpha", gid, 0)[0], self.c.record("beta", gid, 1)[0])
                     == ("aborted", "aborted"), "both to abort through the termination protocol",
                     timeout=15)
        finally:
            self.c.kill("coordinator")
            self.c.start_coordinator()
        for name, branch in (("alpha", 0), ("beta", 1)):
            self.assertBranch(name, gid, branch, "aborted", ["hold", "release"],
                              resolved_by="peers")
        # The coordinator either never logged it (presumed abort) or recovers it as aborted.
        status, tx = self.c.request("GET", "/v1/transactions/" + gid)
        if status == 200:
            self.assertEqual(self.c.wait_terminal(gid)["state"], "aborted")
        else:
            self.assertEqual(status, 404, tx)
        self.assertSettled(gid)

    def test_3pc_participants_that_restarted_in_doubt_never_abort_alone(self):
        a, b = self.acct(), self.acct()
        self._restart_coordinator_crashing_at("after_send:can_commit@2")
        try:
            self._transfer_3pc_until_the_coordinator_dies(a, b)
            gid = wait_for(lambda: self._find_gid("alpha", a) and self._find_gid("beta", b),
                           "both participants' records")
            # Both die in doubt before their first termination round (1 s of silence).
            for name in ("alpha", "beta"):
                self.c.kill(name)
            self.assertEqual((self.c.record("alpha", gid, 0)[0], self.c.record("beta", gid, 1)[0]),
                             ("prepared", "prepared"))
            for name in ("alpha", "beta"):
                self.c.start_participant(name)
            # Everyone answers "uncertain", but both records predate their holders' start: that
            # rule must not abort. Wait until each has seen exactly that twice.
            line = "termination %s: {0: 'uncertain', 1: 'uncertain'}\n" % gid
            wait_for(lambda: all(self.c.log_text(n).count(line) >= 2 for n in ("alpha", "beta")),
                     "two complete termination rounds at each participant")
            self.assertEqual((self.c.record("alpha", gid, 0)[0], self.c.record("beta", gid, 1)[0]),
                             ("prepared", "prepared"))
        finally:
            self.c.kill("coordinator")
            self.c.start_coordinator()
        # The coordinator is back: its status answer (presumed abort) or its own abort decides.
        wait_for(lambda: (self.c.record("alpha", gid, 0)[0], self.c.record("beta", gid, 1)[0])
                 == ("aborted", "aborted"), "both to abort once the coordinator is back")
        for name, branch in (("alpha", 0), ("beta", 1)):
            self.assertIn(self.c.record(name, gid, branch)[1], ("status", "coordinator"))
            self.assertBranch(name, gid, branch, "aborted", ["hold", "release"], resolved_by=None)
        self.assertSettled(gid)

    # -- saga --------------------------------------------------------------------------------

    def test_saga_completes(self):
        a, b = self.acct(), self.acct()
        flaky = {"account": b, "amount": -8, "error": {"action": 1}}
        tx = self.c.post("saga", [{"participant": "alpha", "payload": {"account": a, "amount": 8}},
                                  {"participant": "beta", "payload": flaky}])
        self.assertEqual(tx["state"], "completed")
        got = self.c.get(tx["id"])
        self.assertTx(got, "completed", ["done", "done"])
        # beta failed transiently once, was re-sent and ran its step once.
        self.assertEqual([h["result"] for h in got["branches"][1]["history"]], ["error", "ok"])
        self.assertBranch("alpha", tx["id"], 0, "done", ["action"])
        self.assertBranch("beta", tx["id"], 1, "done", ["action"])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (8, -8))

    def test_saga_compensates_on_refusal(self):
        a, b, c = self.acct(), self.acct(), self.acct()
        tx = self.c.post("saga", [
            {"participant": "alpha", "payload": {"account": a, "amount": 8}},
            {"participant": "beta", "payload": {"account": b, "amount": 8, "refuse": ["action"]}},
            {"participant": "alpha", "payload": {"account": c, "amount": 8}}])
        self.assertEqual(tx["state"], "compensated")
        got = self.c.get(tx["id"])
        self.assertTx(got, "compensated", ["compensated", "failed", "skipped"])
        self.assertIn("payload says refuse action", got["reason"])
        self.assertBranch("alpha", tx["id"], 0, "compensated", ["action", "undo"])
        self.assertBranch("beta", tx["id"], 1, "failed", [])
        self.assertEqual(self.c.record("alpha", tx["id"], 2), (None, None))  # never started
        self.assertEqual([self.c.balance("alpha", a), self.c.balance("beta", b),
                          self.c.balance("alpha", c)], [0, 0, 0])

    def test_saga_compensate_before_action_is_null_and_the_late_action_is_refused(self):
        a, b = self.acct(), self.acct()
        late_payload = {"account": b, "amount": 2, "drop": {"action": 1}}
        tx = self.c.post("saga", [{"participant": "alpha", "payload": {"account": a, "amount": 2}},
                                  {"participant": "beta", "payload": late_payload}],
                         timeout_ms=500)
        self.assertEqual(tx["state"], "compensated")
        self.assertTx(self.c.get(tx["id"]), "compensated", ["compensated", "compensated"])
        self.assertBranch("alpha", tx["id"], 0, "compensated", ["action", "undo"])
        # The unanswered action "may be done", so it was compensated; it had not run here.
        self.assertBranch("beta", tx["id"], 1, "compensated", [])
        late = self.c.send("beta", tx["id"], 1, "saga", "action", late_payload)
        self.assertEqual(late["outcome"], "refused", late)
        self.assertBranch("beta", tx["id"], 1, "compensated", [])
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (0, 0))

    # -- a client on NATS instead of HTTP ----------------------------------------------------

    def test_a_transaction_started_over_nats_is_the_same_transaction(self):
        a, b = self.acct(), self.acct()
        body = {"protocol": "2pc",
                "branches": [{"participant": "alpha", "payload": {"account": a, "amount": 5}},
                             {"participant": "beta", "payload": {"account": b, "amount": -5}}]}
        key = "py-" + uuid.uuid4().hex
        status, tx = self.c.begin_over_nats(body, {"Idempotency-Key": key, "Txc-Wait": "true"})
        self.assertEqual(status, 201, tx)
        self.assertEqual(tx["state"], "committed")
        self.assertTx(self.c.get(tx["id"]), "committed", ["committed", "committed"])
        self.assertBranch("alpha", tx["id"], 0, "committed", ["hold", "apply"])
        self.assertBranch("beta", tx["id"], 1, "committed", ["hold", "apply"])
        # The retried request is the same transaction; a different body under the key is not.
        status, again = self.c.begin_over_nats(body, {"Idempotency-Key": key, "Txc-Wait": "true"})
        self.assertEqual((status, again["id"], again["state"]), (200, tx["id"], "committed"))
        body["branches"][0]["payload"]["amount"] = 6
        status, other = self.c.begin_over_nats(body, {"Idempotency-Key": key})
        self.assertEqual((status, other["error"]["code"]), (422, "already_exists"), other)
        # Errors are the REST API's, with its status.
        status, bad = self.c.begin_over_nats({"protocol": "4pc", "branches": []}, {})
        self.assertEqual((status, bad["error"]["code"]), (400, "invalid_argument"), bad)
        self.assertEqual((self.c.balance("alpha", a), self.c.balance("beta", b)), (5, -5))
        self.assertSettled(tx["id"])


def main():
    global COORDINATOR, CLUSTER
    ap = argparse.ArgumentParser()
    ap.add_argument("--coordinator", required=True, help="path to txc-coordinator")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    args, rest = ap.parse_known_args()
    COORDINATOR = os.path.abspath(args.coordinator)
    # ctest's timeout sends SIGTERM. KeyboardInterrupt is the one exception unittest does not
    # record as a test error and carry on from, so the run stops and cleanup below runs.
    def interrupted(*_):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, interrupted)
    started = time.monotonic()
    CLUSTER = Cluster()
    ok = False
    try:
        CLUSTER.start_nats()
        CLUSTER.start_coordinator()
        CLUSTER.start_participant("alpha")
        CLUSTER.start_participant("beta")
        result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
        ok = result.wasSuccessful()
    finally:
        CLUSTER.stop_all()
        if not ok:
            for key in CLUSTER.procs:
                print("---- %s.log (tail) ----\n%s" % (key, CLUSTER.log_tail(key)), file=sys.stderr)
        if args.keep:
            print("kept", CLUSTER.tmp, file=sys.stderr)
        else:
            shutil.rmtree(CLUSTER.tmp, ignore_errors=True)
        print("python_participant_e2e: %s in %.1fs" % ("passed" if ok else "FAILED",
                                                      time.monotonic() - started), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
