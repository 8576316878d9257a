#!/usr/bin/env python3
"""End to end: the admin web UI (coordinator/ui/) in headless Chromium, driven over the W3C
WebDriver protocol (chromedriver) with nothing but the standard library.

Starts nats-server, txc-coordinator (with an API token, so the page's token form is exercised)
and three txc-test-participant processes on free ports; starts one committed, one aborted (a
participant refuses) and one in-flight 2PC transaction over REST; then in the browser: signs in,
filters the list by state, opens transactions and checks their branches and timeline, tries the
operator actions, opens the participants view, saves screenshots (PNG) in --out-dir and checks
that the page recorded no JavaScript error (window.__txcErrors, and the browser's log).

    python3 tests/e2e/ui_e2e_test.py --coordinator PATH --participant PATH [--out-dir DIR] [--keep]

Fails (exit 1) when chromium or chromedriver is not installed: the test command installs them
(scripts/install-deps.sh --test), so a missing browser is a broken setup, not a reason to skip.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # runs from the source tree: leave no __pycache__ there
sys.path.insert(0, HERE)
from webdriver import WebDriver, WebDriverError, poll  # noqa: E402

TOKEN = "ui-e2e-token"
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Children must not outlive a test run that is itself killed (e.g. by a ctest timeout).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_for(cond, what, timeout=15.0):
    """Polls cond() until it returns something truthy; fails after timeout."""
    return poll(cond, what, timeout)


def http(method, url, body=None, token=TOKEN, timeout=30):
    """One JSON request; returns (status, parsed body)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"null")
        except ValueError:
            return e.code, raw.decode(errors="replace")
    except OSError:
        return None, None


class Cluster:
    """nats-server, the coordinator, participants and chromedriver, all in one temp dir."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="txc-ui-e2e-")
        self.procs = {}
        self.nats_url = "nats://127.0.0.1:%d" % free_port()
        self.http = "http://127.0.0.1:%d" % free_port()

    def spawn(self, key, argv, new_session=False):
        logf = open(os.path.join(self.tmp, key + ".log"), "ab")
        self.procs[key] = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                           cwd=self.tmp, start_new_session=new_session,
                                           preexec_fn=_die_with_parent)
        logf.close()
        return self.procs[key]

    def log(self, key):
        try:
            with open(os.path.join(self.tmp, key + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def running(self, key):
        if self.procs[key].poll() is not None:
            raise AssertionError("%s exited:\n%s" % (key, self.log(key)[-3000:]))
        return True

    def start(self):
        self.spawn("nats", [NATS_SERVER, "-a", "127.0.0.1", "-p", self.nats_url.rsplit(":", 1)[1]])

        def nats_up():
            self.running("nats")
            try:
                socket.create_connection(("127.0.0.1", int(self.nats_url.rsplit(":", 1)[1])),
                                         timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(nats_up, "nats-server")

        self.spawn("coordinator", [self.args.coordinator, "--nats-url", self.nats_url,
                                   "--http-addr", self.http[len("http://"):],
                                   "--db-path", os.path.join(self.tmp, "txc.db"),
                                   "--api-token", TOKEN, "--reply-timeout-ms", "1000",
                                   "--backoff-cap-ms", "1000"])
        wait_for(lambda: self.running("coordinator") and
                 http("GET", self.http + "/readyz", token=None)[0] == 200, "coordinator /readyz")

        # gamma answers nothing (every reply is dropped): its transactions stay in flight.
        for name, extra in (("alpha", []), ("beta", []), ("gamma", ["--drop-reply", "1"])):
            self.spawn(name, [self.args.participant, "--name", name,
                              "--db", os.path.join(self.tmp, name + ".db"),
                              "--nats-url", self.nats_url] + extra)
            wait_for(lambda: self.running(name) and "ready" in self.log(name),
                     "participant %s to be ready" % name)

    def start_chromedriver(self):
        port = free_port()
        # Its own session (process group): chromium, its child, goes down with it in stop().
        self.spawn("chromedriver", [self.args.chromedriver, "--port=%d" % port,
                                    "--allowed-ips=127.0.0.1"], new_session=True)
        driver = WebDriver("http://127.0.0.1:%d" % port)

        def ready():
            self.running("chromedriver")
            try:
                return driver.call("GET", "/status", timeout=2).get("ready")
            except (OSError, WebDriverError):
                return False
        wait_for(ready, "chromedriver /status")
        return driver

    def stop(self):
        for key in sorted(self.procs, key=lambda k: k == "nats"):  # nats-server last
            proc = self.procs[key]
            if key == "chromedriver":
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            elif proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._kill_leftover_chromium()

    def _kill_leftover_chromium(self):
        # A chromium process that left chromedriver's process group still names our private
        # profile directory on its command line: end exactly those.
        marker = ("--user-data-dir=" + os.path.join(self.tmp, "chrome-profile")).encode()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if marker in f.read():
                        os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def post_tx(c, branches, wait=True, timeout_ms=5000):
    status, tx = http("POST", c.http + "/v1/transactions" + ("?wait=true" if wait else ""),
                      {"protocol": "2pc", "timeout_ms": timeout_ms, "branches": branches})
    assert status == 201, (status, tx)
    return tx


def check_png(path, png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    assert len(png) > 10000, "%s is suspiciously small (%d bytes)" % (path, len(png))
    print("  screenshot: %s (%d bytes)" % (path, len(png)))


def run(c, d, out_dir):
    ui = c.http + "/ui/"
    committed = post_tx(c, [{"participant": "alpha", "payload": {"order": 1, "note": "<b>x</b>"}},
                            {"participant": "beta", "payload": {"order": 1}}])
    aborted = post_tx(c, [{"participant": "alpha", "payload": {"order": 2}},
                          {"participant": "beta", "payload": {"order": 2, "refuse": True}}])
    assert committed["state"] == "committed", committed
    assert aborted["state"] == "aborted", aborted
    # gamma's vote never arrives: this one stays in flight while the test runs (for the
    # operator actions), its prepare retried until the vote deadline.
    pending = post_tx(c, [{"participant": "alpha", "payload": {}},
                          {"participant": "gamma", "payload": {}}], wait=False, timeout_ms=120000)
    cid, aid, pid = committed["id"], aborted["id"], pending["id"]
    print("  transactions: committed %s, aborted %s, in flight %s" % (cid, aid, pid))

    def errors():
        return d.js("return window.__txcErrors || null;")

    def row_ids():
        return d.js("return [...document.querySelectorAll('#tx-rows tr[data-tx-id]')]"
                    ".map(r => [r.dataset.txId, r.dataset.state]);")

    # 1. "/" redirects to the UI, which asks for the token (the API answers 401 without it).
    d.go(c.http + "/")
    d.wait_find("#token-form")
    assert d.current_url().startswith(ui), d.current_url()
    assert errors() == [], "errors.js did not load, or errors: %r" % errors()
    d.type("#token-input", TOKEN)
    d.click("#token-submit")

    # 2. The list shows all three; the filters narrow it.
    wait_for(lambda: {cid, aid, pid} <= {i for i, _ in row_ids()}, "all three in the list")
    assert d.find("tr[data-tx-id='%s'] .tx-link" % cid)
    check_png(os.path.join(out_dir, "ui_list.png"),
              d.screenshot(os.path.join(out_dir, "ui_list.png")))
    for state, want, other in (("committed", cid, aid), ("aborted", aid, cid)):
        d.click("#filter-state")
        d.click("#filter-state option[value='%s']" % state)

        def filtered():
            rows = row_ids()
            ids = {i for i, _ in rows}
            return (("state=" + state) in d.current_url() and want in ids and other not in ids
                    and all(s == state for _, s in rows))
        wait_for(filtered, "only %s transactions, %s among them" % (state, want))
        print("  filter state=%s: %d row(s)" % (state, len(row_ids())))

    # Paging follows next_cursor: one per page, newest first, and back.
    d.go(ui + "#/?limit=1")
    pages = []
    for _ in range(3):
        seen = {i for p in pages for i in p}
        pages.append(wait_for(lambda: (lambda ids: ids if ids and ids[0] not in seen else None)(
            [i for i, _ in row_ids()]), "page %d" % (len(pages) + 1)))
        if len(pages) < 3:
            d.click("#page-older")
    assert pages == [[pid], [aid], [cid]], pages
    wait_for(lambda: d.js("return document.getElementById('page-older').disabled;") is True,
             "no page after the last")
    d.click("#page-newer")
    wait_for(lambda: [i for i, _ in row_ids()] == [aid], "the page before")
    # A page size beyond what the API accepts (1..1000) is clamped, not sent to be refused.
    d.go(ui + "#/?limit=5000")
    wait_for(lambda: {cid, aid, pid} <= {i for i, _ in row_ids()}, "the list with limit=5000")
    assert d.js("return document.getElementById('filter-limit').value;") == "1000"
    assert not d.find("#banner .notice"), d.text("#banner")
    d.go(ui + "#/?limit=abc")
    wait_for(lambda: d.js("return document.getElementById('filter-limit').value;") == "50",
             "the default page size for a limit that is not a number")
    d.go(ui + "#/")

    # 3. The aborted one: both branches, the refused vote in the timeline, no abort possible.
    d.click("tr[data-tx-id='%s'] .tx-link" % aid)
    d.wait_find("#tx-detail[data-tx-id='%s'][data-state='aborted']" % aid)
    wait_for(lambda: len(d.find_all("#branches .branch")) == 2, "two branches")
    wait_for(lambda: d.find("#timeline tr.timeline-entry[data-op='prepare'][data-result='refused']"),
             "the refused prepare in the timeline")
    assert "refuse" in (d.text("#tx-reason") or ""), d.text("#tx-reason")
    assert d.js("return document.getElementById('action-abort').disabled;") is True
    assert d.js("return document.getElementById('action-retry').disabled;") is True

    # 4. The committed one: prepare and commit of each branch, in time order, and per branch.
    d.click("a.back")
    d.click("#filter-state")
    d.click("#filter-state option[value='committed']")
    d.click("tr[data-tx-id='%s'] .tx-link" % cid)
    d.wait_find("#tx-detail[data-tx-id='%s'][data-state='committed']" % cid)
    timeline = wait_for(lambda: d.js(
        "return [...document.querySelectorAll('#timeline tr.timeline-entry')]"
        ".map(r => [r.dataset.op, r.dataset.branch, r.dataset.result,"
        " r.querySelector('time').getAttribute('datetime')]);"), "the timeline")
    ops = sorted((op, branch) for op, branch, _, _ in timeline)
    assert ops == [("commit", "0"), ("commit", "1"), ("prepare", "0"), ("prepare", "1")], timeline
    assert all(result == "ok" for _, _, result, _ in timeline), timeline
    times = [at for _, _, _, at in timeline]
    assert times == sorted(times), "timeline not in time order: %r" % times
    # The transaction's own events, merged in: created, the commit decision, the end; the
    # decision after both votes and before any commit.
    rows = d.js("return [...document.querySelectorAll('#timeline tbody tr')].map(r =>"
                " r.classList.contains('tx-event') ? r.dataset.kind + ':' + r.dataset.state"
                " : r.dataset.op);")
    events = [r for r in rows if ":" in r]
    assert events == ["created:", "state:committing", "state:committed"], rows
    decided = rows.index("state:committing")
    assert rows[0] == "created:" and rows.index("state:committed") == len(rows) - 1, rows
    assert rows[:decided].count("prepare") == 2 and "commit" not in rows[:decided], rows
    per_branch = d.js("return [...document.querySelectorAll('#branches .branch')].map(b =>"
                      " [b.dataset.participant, b.dataset.state,"
                      "  b.querySelectorAll('.branch-history tr.timeline-entry').length]);")
    assert per_branch == [["alpha", "committed", 2], ["beta", "committed", 2]], per_branch
    # Data is text, never markup: the payload's "<b>x</b>" is shown as typed.
    d.click("#branches .branch[data-participant='alpha'] details summary")
    assert "<b>x</b>" in d.text("#branches .branch[data-participant='alpha'] pre.payload")
    assert not d.find("#branches pre.payload b")
    check_png(os.path.join(out_dir, "ui_detail.png"),
              d.screenshot(os.path.join(out_dir, "ui_detail.png")))

    # 5. Operator actions on the one in flight (gamma never answers its prepare): both accepted.
    d.go(ui + "#/tx/" + pid)
    d.wait_find("#tx-detail[data-tx-id='%s']" % pid)
    for action in ("retry", "abort"):
        # A click on a disabled button is lost without an error.
        wait_for(lambda: d.js("const b = document.getElementById('action-%s');"
                              " return b && !b.disabled;" % action),
                 action.capitalize() + " enabled on a transaction in flight")
        d.click("#action-" + action)
        if action == "abort":
            wait_for(lambda: d.accept_alert() or True, "the confirmation dialog")
        name = action.capitalize()
        message = wait_for(lambda: (lambda t: t if t and t.startswith(name) and "\u2026" not in t
                                    else None)(d.text("#action-result .notice")),
                           "the result of " + action)
        print("  %s: %s" % (action, message))
        assert message.startswith(name + " accepted"), message
        if action == "abort":
            # Aborted, or aborting while gamma's acknowledgement never comes.
            wait_for(lambda: d.find("#tx-detail[data-state='aborted']") or
                     d.find("#tx-detail[data-state='aborting']"), "the abort to show")
    # Both actions in the timeline, the abort before the decision it caused.
    kinds = wait_for(lambda: (lambda k: k if "state" in k else None)(d.js(
        "return [...document.querySelectorAll('#timeline tr.tx-event')].map(r => r.dataset.kind);")),
        "the operator's actions in the timeline")
    assert kinds[:4] == ["created", "operator_retry", "operator_abort", "state"], kinds

    # 6. Participants: a table of live instances.
    d.click("#nav-participants")
    def participants():
        names = d.js("return [...document.querySelectorAll('#participants-table tr[data-participant]')]"
                     ".map(r => r.dataset.participant + (r.dataset.live === 'true' ? '' : ' (not live)'));")
        return {"alpha", "beta", "gamma"} <= set(names) and "table: " + ", ".join(names)
    found = wait_for(participants, "alpha, beta and gamma live")
    print("  participants view: %s" % found)
    check_png(os.path.join(out_dir, "ui_participants.png"),
              d.screenshot(os.path.join(out_dir, "ui_participants.png")))

    # A coordinator that does not track liveness answers 503 "unavailable": the view says so,
    # with no error. Any other failure is shown as an error. (The page's fetch is replaced for
    # GET /v1/participants only; hash navigation keeps the page, and the replacement, loaded.)
    for status, code, message in ((503, "unavailable", "participant liveness is not tracked"),
                                  (500, "internal", "internal error")):
        d.js("""
            const [status, body] = arguments;
            window.__txcRealFetch = window.__txcRealFetch || window.fetch;
            window.fetch = (url, options) => String(url).startsWith("/v1/participants")
                ? Promise.resolve(new Response(JSON.stringify(body),
                      {status, headers: {"Content-Type": "application/json"}}))
                : window.__txcRealFetch(url, options);
            location.hash = "#/";""", status, {"error": {"code": code, "message": message}})
        d.wait_find("#tx-list")
        d.js("location.hash = '#/participants';")
        d.wait_find("#participants")
        if status == 503:
            wait_for(lambda: d.find("#participants-unavailable"), "the 'not available' notice")
            assert not d.find("#banner .notice"), d.text("#banner")
        else:
            shown = wait_for(lambda: d.text("#banner .notice-error"), "the error banner")
            assert message in shown, shown
            assert not d.find("#participants-unavailable")
        print("  participants view, HTTP %d: %s" % (status, "not available" if status == 503
                                                     else "error shown"))
    d.js("window.fetch = window.__txcRealFetch; location.hash = '#/';")
    d.wait_find("#tx-list")
    d.click("#nav-participants")
    wait_for(participants, "the participants table again")

    # 7. No JavaScript error anywhere along the way.
    assert errors() == [], "JavaScript errors: %r" % errors()
    log = d.browser_log()
    if log is not None:
        # Network entries are expected (the 401 before the token; a 404 from an API call the
        # coordinator does not serve); anything from scripts is a bug.
        bad = [e for e in log if e.get("level") == "SEVERE" and e.get("source") != "network"]
        assert not bad, "browser console errors: %r" % bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coordinator", required=True)
    ap.add_argument("--participant", required=True)
    ap.add_argument("--out-dir", default=os.getcwd(), help="where the screenshots go")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = ap.parse_args()
    args.coordinator, args.participant = map(os.path.abspath, (args.coordinator, args.participant))
    missing = [tool for tool in (args.chromium, args.chromedriver) if not os.access(tool, os.X_OK)]
    if missing:
        print("FAILED: ui_e2e_test needs %s, which is not installed; scripts/install-deps.sh "
              "--test installs it (apt-get install chromium chromium-driver)"
              % " and ".join(missing), file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)

    c = Cluster(args)
    d = None
    ok = False
    try:
        c.start()
        d = c.start_chromedriver()
        d.start(args.chromium, os.path.join(c.tmp, "chrome-profile"))
        run(c, d, args.out_dir)
        ok = True
        print("PASSED: ui_e2e_test")
    finally:
        if d is not None:
            try:
                d.quit()
            except (OSError, WebDriverError) as e:
                print("chromedriver: could not end the session: %s" % e)
        c.stop()
        if not ok:
            for key in c.procs:
                print("---- %s.log (tail) ----\n%s" % (key, c.log(key)[-2000:]))
        if args.keep or not ok:
            print("logs kept in %s" % c.tmp)
        else:
            shutil.rmtree(c.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
