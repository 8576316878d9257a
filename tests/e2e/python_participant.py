#!/usr/bin/env python3
"""A txc participant written from docs/protocol.md alone: Python 3 stdlib plus mini_nats.

Its business is a toy ledger. A branch payload {"account": "a", "amount": 5} holds 5 for "a" at
prepare/can_commit and adds it to the balance at commit; a saga action adds it at once and its
compensation subtracts it. Every time business logic runs it appends a row to `journal`, so a
test can see exactly what ran, and how often.

Test scripting, also in the payload (the protocol passes payloads through untouched):
  "refuse": ["prepare", ...]      the business says no to these ops (a definitive refusal)
  "error":  {"action": 1, ...}    the first N times the business logic of an op runs, it fails
                                  transiently (rolled back, nothing recorded, outcome "error")
  "drop":   {"prepare": 1, ...}   the first N deliveries of an op are lost (no reply)
  "gate":   {"prepare": PATH}     an op is held back (as if delayed in the network) until PATH
                                  exists
"""

import argparse
import json
import os
import queue
import secrets
import signal
import sqlite3
import sys
import threading
import time

sys.dont_write_bytecode = True  # runs from the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mini_nats  # noqa: E402

OK, REFUSED, ERROR = "ok", "refused", "error"
PROTOCOL_OPS = {
    "2pc": {"prepare", "commit", "abort"},
    "3pc": {"can_commit", "pre_commit", "do_commit", "abort"},
    "saga": {"action", "compensate"},
}
# The state a branch ends in when the business refuses its vote or action.
REFUSED_STATE = {"2pc": "aborted", "3pc": "aborted", "saga": "failed"}
IN_DOUBT = ("prepared", "precommitted")

# The participant tables of docs/protocol.md: op -> {record state: (outcome, new state, effect)}.
# A state missing from an op's row is a protocol violation (outcome "error"). The effects "hold"
# and "action" are where the business may refuse.
_ok = (OK, None, None)
TABLE = {
    "prepare": {None: (OK, "prepared", "hold"), "prepared": _ok, "committed": _ok,
                "aborted": (REFUSED, None, None)},
    "commit": {"prepared": (OK, "committed", "apply"), "committed": _ok},
    "can_commit": {None: (OK, "prepared", "hold"), "prepared": _ok, "precommitted": _ok,
                   "committed": _ok, "aborted": (REFUSED, None, None)},
    "pre_commit": {"prepared": (OK, "precommitted", "pre_commit"), "precommitted": _ok,
                   "committed": _ok, "aborted": (REFUSED, None, None)},
    "do_commit": {"prepared": (OK, "committed", "apply"),
                  "precommitted": (OK, "committed", "apply"), "committed": _ok},
    # Shared by 2PC and 3PC; a 2PC record is never "precommitted".
    "abort": {None: (OK, "aborted", None), "prepared": (OK, "aborted", "release"),
              "precommitted": (OK, "aborted", "release"), "aborted": _ok},
    "action": {None: (OK, "done", "action"), "done": _ok, "failed": (REFUSED, None, None),
               "compensated": (REFUSED, None, None)},
    "compensate": {None: (OK, "compensated", None), "done": (OK, "compensated", "undo"),
                   "failed": (OK, "compensated", None), "compensated": _ok},
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS txc_branch (
  gid TEXT NOT NULL, branch INTEGER NOT NULL, protocol TEXT NOT NULL, state TEXT NOT NULL,
  payload TEXT, participants TEXT, resolved_by TEXT, updated_at REAL NOT NULL,
  PRIMARY KEY (gid, branch));
CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS holds (
  gid TEXT NOT NULL, branch INTEGER NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL,
  PRIMARY KEY (gid, branch));
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, gid TEXT NOT NULL, branch INTEGER NOT NULL,
  op TEXT NOT NULL);
"""


class Refused(Exception):
    pass


class Transient(Exception):
    pass


def log(name, *args):
    print("[%s %s]" % (name, time.strftime("%H:%M:%S")), *args, file=sys.stderr, flush=True)


def open_db(path):
    # Autocommit mode: every local transaction is an explicit BEGIN IMMEDIATE ... COMMIT, which
    # takes the write lock first and so serialises requests across threads and instances.
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    return db


class Ledger:
    """The business effects. Each runs inside the caller's local transaction."""

    def __init__(self, participant):
        self.p = participant

    @staticmethod
    def _fields(payload):
        payload = payload if isinstance(payload, dict) else {}
        return str(payload.get("account", "default")), int(payload.get("amount", 0))

    def _check(self, op, gid, branch, payload):
        if isinstance(payload, dict):
            if op in (payload.get("refuse") or []):
                raise Refused("payload says refuse %s" % op)
            if self.p.take_budget("error", gid, branch, op, payload):
                raise Transient("payload says fail %s transiently" % op)

    def _add(self, db, account, amount):
        db.execute("INSERT INTO balances VALUES (?, ?) ON CONFLICT(account) "
                   "DO UPDATE SET balance = balance + excluded.balance", (account, amount))

    def run(self, effect, db, req, record_payload):
        gid, branch, op = req["gid"], req["branch"], req["op"]
        if effect in ("hold", "action"):
            self._check(op, gid, branch, req.get("payload"))
        if effect == "hold":
            account, amount = self._fields(req.get("payload"))
            db.execute("INSERT INTO holds VALUES (?, ?, ?, ?)", (gid, branch, account, amount))
        elif effect == "apply":
            # From the hold, not the request: a decision learnt through the status query or the
            # termination protocol arrives without a payload.
            row = db.execute("SELECT account, amount FROM holds WHERE gid=? AND branch=?",
                             (gid, branch)).fetchone()
            if row is None:
                raise Transient("no hold for %s/%s" % (gid, branch))
            self._add(db, *row)
            db.execute("DELETE FROM holds WHERE gid=? AND branch=?", (gid, branch))
        elif effect == "release":
            db.execute("DELETE FROM holds WHERE gid=? AND branch=?", (gid, branch))
        elif effect == "action":
            self._add(db, *self._fields(req.get("payload")))
        elif effect == "undo":
            account, amount = self._fields(record_payload)
            self._add(db, account, -amount)
        db.execute("INSERT INTO journal (gid, branch, op) VALUES (?, ?, ?)", (gid, branch, effect))


class Participant:
    def __init__(self, args):
        self.name = args.name
        self.args = args
        self.db = open_db(args.db)
        self.ledger = Ledger(self)
        self.work = queue.Queue()  # everything that touches records runs on one worker thread
        self.budgets = {}  # (kind, gid, branch, op) -> deliveries/runs used, for "drop"/"error"
        self.last_heard = {}  # (gid, branch) -> time.time() of the last request for it
        self.stopping = threading.Event()
        # Branches in doubt when this process started: resolved first, and never aborted by the
        # 3PC "all uncertain" rule on our own (our record predates our start).
        self.recovered = {(g, b) for g, b in self.db.execute(
            "SELECT gid, branch FROM txc_branch WHERE state IN (?, ?)", IN_DOUBT)}
        self.nc = mini_nats.Client(args.nats_url, name="py-participant-" + self.name)
        # Liveness: one id per process start, announced on txc.heartbeat.<name>.
        self.instance = "%s-%s" % (self.name, secrets.token_hex(8))

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self):
        threading.Thread(target=self._worker, name="worker", daemon=True).start()
        if self.recovered:
            log(self.name, "in doubt at start:", sorted(self.recovered))
            # Like a database replaying its log before it opens: settle what we left in doubt
            # with the coordinator before taking new requests for it.
            self._resolve_pass()
        self.nc.subscribe("txc.participant.%s.*" % self.name, self._on_msg, queue_group=self.name)
        self._heartbeat()  # once subscribed, and with the flush: the coordinator has it now
        self.nc.flush()
        log(self.name, "instance", self.instance)
        log(self.name, "subscribed")
        threading.Thread(target=self._resolver, name="resolver", daemon=True).start()
        threading.Thread(target=self._heartbeats, name="heartbeats", daemon=True).start()
        while not self.stopping.wait(0.2):
            if self.nc.closed.is_set():
                log(self.name, "NATS connection lost")
                return 1
        # Graceful stop: the last heartbeat says we are leaving, so we are forgotten at once.
        self._heartbeat(leaving=True)
        self.nc.flush()
        return 0

    def _heartbeat(self, leaving=False):
        body = {"v": 1, "participant": self.name, "instance": self.instance,
                "interval_ms": self.args.heartbeat_interval_ms}
        if leaving:
            body["leaving"] = True
        try:
            self.nc.publish("txc.heartbeat." + self.name, json.dumps(body))
        except ConnectionError as e:
            log(self.name, "heartbeat lost: %s" % e)

    def _heartbeats(self):
        while not self.stopping.wait(self.args.heartbeat_interval_ms / 1000):
            self._heartbeat()

    def _worker(self):
        while True:
            fn, args, done = self.work.get()
            try:
                result = fn(*args)
            except Exception as e:  # keep serving: one bad request must not stop the rest
                log(self.name, "worker: %r" % e)
                result = None
            if done is not None:
                done.put(result)

    def _call(self, fn, *args):
        """Runs fn on the worker thread and returns its result."""
        done = queue.Queue()
        self.work.put((fn, args, done))
        return done.get()

    def take_budget(self, kind, gid, branch, op, payload):
        """True while the payload's "drop"/"error" count for op is not used up."""
        limit = (payload.get(kind) or {}).get(op, 0) if isinstance(payload, dict) else 0
        key = (kind, gid, branch, op)
        used = self.budgets.get(key, 0)
        if used >= limit:
            return False
        self.budgets[key] = used + 1
        return True

    # -- incoming messages -------------------------------------------------------------------

    def _on_msg(self, msg):
        self.work.put((self._handle_msg, (msg,), None))

    def _reply(self, msg, body):
        try:
            self.nc.publish(msg.reply, json.dumps(body))
        except ConnectionError as e:
            log(self.name, "reply lost: %s" % e)

    def _handle_msg(self, msg):
        if not msg.reply:
            log(self.name, "ignored %s: no reply subject" % msg.subject)
            return
        token = msg.subject.rsplit(".", 1)[-1]
        try:
            req = msg.json()
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            if token != "state":
                self._reply(msg, {"v": 1, "op": token, "outcome": ERROR,
                                  "message": "malformed request: %s" % e})
            return
        if token == "state":
            self._reply(msg, self._peer_state(req.get("gid")))
            return
        payload = req.get("payload")
        gate = (payload.get("gate") or {}).get(token) if isinstance(payload, dict) else None
        if gate and not os.path.exists(gate):
            threading.Timer(0.05, self.work.put, [(self._handle_msg, (msg,), None)]).start()
            return
        if self.take_budget("drop", req.get("gid"), req.get("branch"), token, payload):
            log(self.name, "dropped %s %s/%s" % (token, req.get("gid"), req.get("branch")))
            return
        self._reply(msg, self.process(req, token, via="coordinator"))

    def _peer_state(self, gid):
        rows = self.db.execute("SELECT branch, state FROM txc_branch WHERE gid=? ORDER BY branch",
                               (gid,)).fetchall() if isinstance(gid, str) else []
        return {"v": 1, "gid": gid, "participant": self.name,
                "branches": [{"branch": b, "state": "uncertain" if s == "prepared" else s}
                             for b, s in rows]}

    # -- the record table --------------------------------------------------------------------

    def process(self, req, subject_op, via):
        """Applies one branch request to its record; returns the reply body."""
        gid, branch, op = req.get("gid"), req.get("branch"), req.get("op")
        reply = {"v": 1, "gid": gid, "branch": branch, "op": op}

        def answer(outcome, message=None):
            if message:
                reply["message"] = message
            reply["outcome"] = outcome
            if outcome != OK or via != "coordinator":
                log(self.name, "%s %s/%s via %s -> %s %s" % (op, gid, branch, via, outcome,
                                                           message or ""))
            return reply

        problem = self._validate(req, subject_op)
        if problem:
            return answer(ERROR, problem)
        self.last_heard[(gid, branch)] = time.time()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT state, protocol, payload FROM txc_branch "
                             "WHERE gid=? AND branch=?", (gid, branch)).fetchone()
            state, protocol = (row[0], row[1]) if row else (None, req["protocol"])
            if protocol != req["protocol"]:
                db.execute("ROLLBACK")
                return answer(ERROR, "branch is %s, request says %s" % (protocol, req["protocol"]))
            entry = TABLE[op].get(state)
            if entry is None:
                db.execute("ROLLBACK")
                log(self.name, "PROTOCOL VIOLATION: %s on a %s branch %s/%s"
                    % (op, state or "unknown", gid, branch))
                return answer(ERROR, "protocol violation: %s on a branch that is %s"
                              % (op, state or "unknown"))
            outcome, new_state, effect = entry
            message = None
            if effect:
                db.execute("SAVEPOINT effect")
                try:
                    self.ledger.run(effect, db, req, json.loads(row[2]) if row else None)
                    db.execute("RELEASE effect")
                except Refused as e:
                    # The business said no: roll its effects back, but record the refusal, so
                    # that a duplicate or late request is refused again.
                    db.execute("ROLLBACK TO effect")
                    db.execute("RELEASE effect")
                    outcome, new_state, message = REFUSED, REFUSED_STATE[protocol], str(e)
            if new_state:
                self._write(db, req, row, new_state, via)
            db.execute("COMMIT")  # synchronous=FULL: on disk before the reply leaves
            return answer(outcome, message)
        except Transient as e:
            db.execute("ROLLBACK")
            return answer(ERROR, str(e))
        except Exception as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            return answer(ERROR, "%s: %s" % (type(e).__name__, e))

    def _validate(self, req, subject_op):
        if req.get("v") != 1:
            return "unsupported protocol version %r" % req.get("v")
        gid, branch, op = req.get("gid"), req.get("branch"), req.get("op")
        if not isinstance(gid, str) or not gid:
            return "missing gid"
        if not isinstance(branch, int) or isinstance(branch, bool) or branch < 0:
            return "missing or bad branch"
        if op != subject_op:
            return "op %r differs from the subject's %r" % (op, subject_op)
        if op not in PROTOCOL_OPS.get(req.get("protocol"), ()):
            return "op %r is not part of protocol %r" % (op, req.get("protocol"))
        return None

    def _write(self, db, req, row, state, via):
        participants = req.get("participants")
        resolved_by = via if state in ("committed", "aborted", "compensated") else None
        if row is None:
            db.execute("INSERT INTO txc_branch VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (req["gid"], req["branch"], req["protocol"], state,
                        json.dumps(req.get("payload")),
                        json.dumps(participants) if participants is not None else None,
                        resolved_by, time.time()))
        else:
            db.execute("UPDATE txc_branch SET state=?, resolved_by=?, updated_at=?, "
                       "participants=COALESCE(participants, ?) WHERE gid=? AND branch=?",
                       (state, resolved_by, time.time(),
                        json.dumps(participants) if participants is not None else None,
                        req["gid"], req["branch"]))

    # -- in doubt: status query and 3PC termination protocol ---------------------------------

    def _resolver(self):
        interval = self.args.status_interval_ms / 1000
        while not self.stopping.wait(interval):
            try:
                self._resolve_pass()
            except Exception as e:  # e.g. a peer's odd answer: this round is lost, not the loop
                log(self.name, "resolver: %r" % e)

    def _in_doubt(self):
        """{gid: [(branch, protocol, state, payload, participants)]} of branches in doubt that
        have heard nothing for --in-doubt-after-ms, or were in doubt when we started."""
        quiet, now = self.args.in_doubt_after_ms / 1000, time.time()
        groups, due = {}, set()
        for row in self._call(lambda: self.db.execute(
                "SELECT gid, branch, protocol, state, payload, participants, updated_at "
                "FROM txc_branch WHERE state IN (?, ?)", IN_DOUBT).fetchall()):
            gid, branch = row[0], row[1]
            groups.setdefault(gid, []).append(row[1:6])
            # updated_at too: another instance sharing the database may have written it.
            heard = max(row[6], self.last_heard.get((gid, branch), 0))
            if (gid, branch) in self.recovered or now - heard >= quiet:
                due.add(gid)
        return {gid: groups[gid] for gid in due}

    def _resolve_pass(self):
        for gid, branches in self._in_doubt().items():
            self._resolve(gid, branches)

    def _apply(self, gid, branches, op_by_protocol, via):
        for branch, protocol, _state, payload, _parts in branches:
            op = op_by_protocol[protocol]
            req = {"v": 1, "gid": gid, "branch": branch, "participant": self.name,
                   "protocol": protocol, "op": op, "attempt": 0, "payload": json.loads(payload)}
            if self._call(self.process, req, op, via)["outcome"] != OK:
                return False
        return True

    def _resolve(self, gid, branches):
        try:
            reply = self.nc.request("txc.coordinator.status", json.dumps({"v": 1, "gid": gid}),
                                    timeout=self.args.status_timeout_ms / 1000).json()
            decision = reply.get("decision") if reply.get("gid") == gid else None
        except mini_nats.NoResponders:
            if any(b[1] == "3pc" for b in branches):
                self._terminate(gid)
            return
        except (TimeoutError, ValueError, AttributeError):
            return  # no (usable) answer means nothing: ask again later
        if decision == "commit":
            self._apply(gid, branches, {"2pc": "commit", "3pc": "do_commit"}, "status")
        elif decision == "abort":
            self._apply(gid, branches, {"2pc": "abort", "3pc": "abort"}, "status")

    def _terminate(self, gid):
        """Skeen's termination protocol, for a 3PC transaction whose coordinator is down."""
        mine = self._call(lambda: self.db.execute(
            "SELECT branch, protocol, state, payload, participants FROM txc_branch WHERE gid=?",
            (gid,)).fetchall())
        participants = next((json.loads(r[4]) for r in mine if r[4]), None)
        if not participants:
            log(self.name, "%s: no participants list, cannot ask peers" % gid)
            return
        states = {i: "none" for i in range(len(participants))}
        states.update({r[0]: "uncertain" if r[2] == "prepared" else r[2] for r in mine})
        everyone_answered = True
        for peer in sorted(set(participants) - {self.name}):
            try:
                reply = self.nc.request("txc.participant.%s.state" % peer,
                                        json.dumps({"v": 1, "gid": gid, "from": self.name}),
                                        timeout=self.args.status_timeout_ms / 1000).json()
                for b in reply.get("branches", []):
                    if 0 <= b["branch"] < len(participants) and participants[b["branch"]] == peer:
                        states[b["branch"]] = b["state"]
            except (mini_nats.NoResponders, TimeoutError, ValueError, KeyError, TypeError):
                everyone_answered = False
        seen = set(states.values())
        in_doubt = [r for r in mine if r[2] in IN_DOUBT]
        log(self.name, "termination %s: %s%s" % (gid, states,
                                                  "" if everyone_answered else " (incomplete)"))
        if "committed" in seen:
            self._commit_3pc(gid, in_doubt)
        elif "aborted" in seen:
            self._apply(gid, in_doubt, {"3pc": "abort"}, "peers")
        elif not everyone_answered:
            return  # nothing decisive and someone is silent: never guess
        elif "precommitted" in seen:
            for i, state in sorted(states.items()):
                if state != "uncertain" or participants[i] == self.name:
                    continue
                req = {"v": 1, "gid": gid, "branch": i, "participant": participants[i],
                       "protocol": "3pc", "op": "pre_commit", "attempt": 0, "payload": None,
                       "participants": participants}
                try:
                    ok = self.nc.request("txc.participant.%s.pre_commit" % participants[i],
                                         json.dumps(req),
                                         timeout=self.args.status_timeout_ms / 1000).json()
                except (mini_nats.NoResponders, TimeoutError, ValueError):
                    return
                if ok.get("outcome") != OK:
                    return
            self._commit_3pc(gid, in_doubt)
        elif not any((gid, r[0]) in self.recovered for r in in_doubt):
            self._apply(gid, in_doubt, {"3pc": "abort"}, "peers")

    def _commit_3pc(self, gid, in_doubt):
        uncertain = [r for r in in_doubt if r[2] == "prepared"]
        if self._apply(gid, uncertain, {"3pc": "pre_commit"}, "peers"):
            self._apply(gid, in_doubt, {"3pc": "do_commit"}, "peers")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    ap.add_argument("--name", required=True)
    ap.add_argument("--db", required=True, help="SQLite file (records and business data)")
    ap.add_argument("--in-doubt-after-ms", type=int, default=2000,
                    help="silence after which a prepared branch asks for its outcome")
    ap.add_argument("--status-interval-ms", type=int, default=500,
                    help="how often in-doubt branches ask again")
    ap.add_argument("--status-timeout-ms", type=int, default=1000,
                    help="wait for an answer to a status or peer query")
    ap.add_argument("--heartbeat-interval-ms", type=int, default=1000,
                    help="how often this instance announces itself on txc.heartbeat.<name>")
    args = ap.parse_args()
    p = Participant(args)
    signal.signal(signal.SIGTERM, lambda *_: p.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: p.stopping.set())
    code = p.run()
    p.nc.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
