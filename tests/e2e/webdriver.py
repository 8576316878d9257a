"""A W3C WebDriver client (https://www.w3.org/TR/webdriver2/) with the few commands the UI test
needs, on the standard library alone (urllib + json): tests run where PyPI is unreachable.
Talks to chromedriver; browser_log() uses chromedriver's legacy log endpoint."""

import base64
import json
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key


def poll(cond, what, timeout=15.0):
    """Polls cond() until it returns something truthy; raises AssertionError after timeout.
    A WebDriverError on the way (e.g. a stale element while the page re-renders) is retried."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except WebDriverError as e:
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s%s" %
                                 (timeout, what, " (last: %s)" % last_error if last_error else ""))
        time.sleep(0.05)


class WebDriverError(Exception):
    pass


class WebDriver:
    """The few W3C WebDriver commands this test needs, over urllib."""

    def __init__(self, url):
        self.url = url
        self.session = None

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            value = json.loads(e.read() or b"{}").get("value", {})
            raise WebDriverError("%s %s: %s: %s" % (method, path, value.get("error"),
                                                    (value.get("message") or "")[:300]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def start(self, chromium, user_data_dir):
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=" + user_data_dir, "--window-size=1440,1000",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--force-device-scale-factor=1"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "unhandledPromptBehavior": "ignore"}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", "/session/" + self.session, timeout=15)
            finally:
                self.session = None

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def current_url(self):
        return self.s("GET", "/url")

    def find_all(self, css):
        return [e[ELEMENT] for e in self.s("POST", "/elements", {"using": "css selector",
                                                                  "value": css})]

    def find(self, css):
        found = self.find_all(css)
        return found[0] if found else None

    def wait_find(self, css, timeout=15.0):
        return poll(lambda: self.find(css), "an element matching %r" % css, timeout)

    def click(self, css):
        # Retried: a view that re-renders between finding and clicking makes the element stale.
        def clicked():
            el = self.find(css)
            return el and self.s("POST", "/element/%s/click" % el) is None
        poll(clicked, "a click on %r" % css)

    def type(self, css, text):
        self.s("POST", "/element/%s/value" % self.wait_find(css), {"text": text})

    def text(self, css):
        el = self.find(css)
        return self.s("GET", "/element/%s/text" % el) if el else None

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def accept_alert(self):
        self.s("POST", "/alert/accept")

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def browser_log(self):
        """Chromium's console and network log (chromedriver's legacy endpoint); None if absent."""
        try:
            return self.s("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return None
