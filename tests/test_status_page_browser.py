"""The installer status page (issue 9) in a real headless Chromium (Debian's chromium and
chromium-driver, installed by tools/run-tests; driven by selenium) against the agent process on
the desktop board: an Operator made with CreateUsers opens it (HTTP Digest, the credentials in
the URL of the top-level navigation), a pulse clicked on the page reaches the simulated relay,
an input changed with `onvif-agent sim input` shows on the page, the console stays free of CSP
and script errors, a hostile board description stays text, and another site's form or script
cannot pulse a relay with the browser's cached credentials."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.agentproc import ROOT, AgentProcess
from tests.clients import DEVICE_BINDING, zeep_service
from tests.test_deviceio_e2e import sim
from tests.test_e2e_clients import ADMIN, ADMIN_PASSWORD, token
from tests.test_status_page import HOSTILE

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# What works on this machine's closed network (no background connections, no QUIC, no GPU).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
OPERATOR, OPERATOR_PASSWORD = "installer", "Inst4ller-pw"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="NO BROWSER: Debian's chromium and chromium-driver are not installed (tools/run-tests "
           "installs them as root: apt-get install chromium chromium-driver)")


def start_agent(state_dir, *args):
    agent = AgentProcess(state_dir, *args, env={"ONVIF_AGENT_ADMIN": "%s:%s" % (
        ADMIN, ADMIN_PASSWORD)})
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, wsse=token()).service
    device.CreateUsers(User=[{"Username": OPERATOR, "Password": OPERATOR_PASSWORD,
                              "UserLevel": "Operator"}])
    return agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with start_agent(tmp_path_factory.mktemp("state")) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ("--user-data-dir=%s" % tmp_path_factory.mktemp("chromium"),):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def page_url(agent, user=OPERATOR, password=OPERATOR_PASSWORD):
    """The status page URL the agent prints, over plain HTTP (the test does not trust the
    self-signed certificate), with the credentials for the top-level navigation."""
    for line in agent.banner:
        if line.startswith("status page (Administrator or Operator): "):
            url = line.split(": ", 1)[1].strip()
            assert url == "https://127.0.0.1:%d/" % agent.https_port, url
            return "http://%s:%s@127.0.0.1:%d/" % (user, password, agent.port)
    raise AssertionError("no status page in the banner: %s" % "".join(agent.banner))


def table(driver, name):
    """The rows of the page's table `name` as lists of cell texts, read in one script call (the
    page may re-render between two WebDriver calls)."""
    return driver.execute_script(
        "var t = document.getElementById(arguments[0]);"
        "return Array.from(t.rows).map(function (r) {"
        "  return Array.from(r.cells).map(function (c) { return c.textContent; }); });", name)


def row(driver, name, token):
    for cells in table(driver, name):
        if cells and cells[0] == token:
            return cells
    return None


def wait_for(predicate, timeout=5.0, what="the condition"):
    """Seconds until `predicate()` held, polling every 20 ms; fails after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("%s did not hold within %g s" % (what, timeout))
        time.sleep(0.02)
    return time.monotonic() - start


def sim_state(agent):
    return dict(word.split("=") for word in sim(agent, "state").split())


def console_errors(driver):
    """Severe browser console entries since the last call (reading drains the log)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" or
            "Content Security Policy" in entry["message"]]


@pytest.fixture(scope="module")
def page(agent, browser):
    browser.get(page_url(agent))
    wait_for(lambda: row(browser, "relays", "R2") is not None, what="the relays table")
    return browser


def test_the_page_loads_for_an_operator(page):
    assert page.title == "onvif-agent status"
    assert ["Model", "Desktop simulator"] in table(page, "device")
    assert row(page, "relays", "R1")[:6] == ["R1", "door strike (simulated)", "inactive",
                                             "Bistable", "1000", "open"]
    assert row(page, "inputs", "IN1") == ["IN1", "door contact (simulated)", "inactive", "open",
                                          "open"]
    assert row(page, "serial", "RS485")[2:] == ["RS485HalfDuplex", "9600", "None", "8", "1"]
    assert page.find_element("id", "err").text == ""


def test_a_pulse_clicked_on_the_page_reaches_the_relay(agent, page):
    button = page.find_element("id", "pulse-R1")
    sim(agent, "input", "IN2", "closed")  # the tables are rebuilt: the button stays the same
    wait_for(lambda: row(page, "inputs", "IN2")[2] == "active", what="IN2 active on the page")
    button.click()
    wait_for(lambda: sim_state(agent)["R1"] == "closed", what="R1 closed in the simulator")
    wait_for(lambda: row(page, "relays", "R1")[2] == "active", what="R1 active on the page")
    # The desktop board's R1 is Bistable: the page's pulse lasts BISTABLE_PULSE_MS (1 s).
    wait_for(lambda: sim_state(agent)["R1"] == "open", what="R1 open again after the pulse")
    wait_for(lambda: row(page, "relays", "R1")[2] == "inactive", what="R1 inactive on the page")
    sim(agent, "input", "IN2", "open")


def test_an_input_change_shows_on_the_page(agent, page):
    sim(agent, "input", "IN1", "closed")
    seconds = wait_for(lambda: row(page, "inputs", "IN1")[2:4] == ["active", "closed"],
                       what="IN1 active on the page")
    assert seconds < 3, seconds  # the page polls once a second
    events = [cells[1:] for cells in table(page, "events")[1:]]
    assert ["Device/Trigger/DigitalInput", "Changed", "InputToken=IN1",
            "LogicalState=true"] in events, events
    sim(agent, "input", "IN1", "open")
    wait_for(lambda: row(page, "inputs", "IN1")[2:4] == ["inactive", "open"],
             what="IN1 inactive again")


def test_the_console_has_no_csp_or_script_errors(page):
    assert console_errors(page) == []


def test_the_polls_stay_out_of_the_access_log(agent, page):
    """Chromium sends its Digest credentials ahead on the polls (no 401 each second), and the
    state resource is quiet: the page's opening is logged, its polls are not."""
    import requests
    from requests.auth import HTTPDigestAuth
    time.sleep(2)  # two more polls
    log = requests.get("http://127.0.0.1:%d/onvif/system/log/access" % agent.port, timeout=10,
                       auth=HTTPDigestAuth(ADMIN, ADMIN_PASSWORD)).text
    assert "%s status GET / 200" % OPERATOR in log
    assert "/status/state" not in log, log


def test_a_hostile_board_description_stays_text(browser, tmp_path):
    board = json.loads((ROOT / "boards" / "desktop.json").read_text())
    board["relays"][0]["description"] = HOSTILE
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(board))
    console_errors(browser)
    with start_agent(tmp_path / "state", "--board", str(path)) as hostile:
        browser.get(page_url(hostile))
        wait_for(lambda: row(browser, "relays", "R1") is not None, what="the relays table")
        assert row(browser, "relays", "R1")[1] == HOSTILE
        assert browser.find_elements("css selector", "#relays img, #relays script") == []
        # An alert() from the description would also fail every later WebDriver call.
        assert console_errors(browser) == []


class ForeignSite:
    """Another origin (a second port on loopback) whose pages try to pulse R1 on the agent."""

    def __init__(self, agent_port):
        target = "http://127.0.0.1:%d/status/pulse" % agent_port
        pages = {
            # A form can send text/plain with a body that looks like JSON, and no header.
            "/form": '<form method="post" enctype="text/plain" action="%s">'
                     '<input name=\'{"token": "R1", "x": "\' value=\'"}\'></form>'
                     '<script>document.forms[0].submit()</script>' % target,
            # A script may set the JSON type and the header only after a CORS preflight.
            "/fetch": '<script>fetch("%s", {method: "POST", credentials: "include", headers: '
                      '{"Content-Type": "application/json", "X-Status-Page": "pulse"}, body: '
                      '\'{"token": "R1"}\'}).then(function (r) { document.title = "status " + '
                      'r.status; }, function (e) { document.title = "refused"; });</script>'
                      % target,
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages[self.path].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.origin = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_another_site_cannot_pulse_with_the_cached_credentials(agent, page):
    site = ForeignSite(agent.port)
    try:
        page.get(site.origin + "/form")
        wait_for(lambda: page.current_url.endswith("/status/pulse"), what="the form posted")
        assert "Unsupported Media Type" in page.page_source or "415" in page.page_source
        page.get(site.origin + "/fetch")
        wait_for(lambda: page.title == "refused", what="the cross-site fetch refused")
        time.sleep(0.3)
        assert sim_state(agent)["R1"] == "open"
        console_errors(page)  # the foreign pages' refused requests; not the status page's
    finally:
        site.close()
    # The status page still works afterwards, with the browser's cached credentials.
    page.get(page_url(agent))
    wait_for(lambda: row(page, "relays", "R1") is not None, what="the page again")

