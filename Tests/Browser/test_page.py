"""The auction page in a real browser (Debian's chromium through selenium): an observer and two
bidders, each in their own browser session, go through an accelerated auction run by real
redis-server, tender-sandbox and auctiond processes. Screenshots go to run/screenshots/."""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, ".build", "debug")
SHOTS = os.path.join(ROOT, "run", "screenshots")
TOKEN = "auction"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=20.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


# The test certificate's own context: https to a service the test made the certificate for.
TRUSTING = ssl.create_default_context()
TRUSTING.check_hostname = False
TRUSTING.verify_mode = ssl.CERT_NONE


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5, context=TRUSTING if url.startswith("https:") else None) as answer:
        return json.load(answer)


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # The TLS test's certificate is made by the test: the browser is told to take it.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
                     "--ignore-certificate-errors"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(width, height)
    return driver


class AuctionPageTest(unittest.TestCase):
    # The service speaks https and wss with a certificate the test makes (AuctionPageOverTLSTest).
    tls = False

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="browser-")
        self.processes = []
        redis_port, sandbox_port, service_port = free_port(), free_port(), free_port()
        self.start(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], "redis")
        self.start([os.path.join(BUILD, "tender-sandbox"), "--listen", f"127.0.0.1:{sandbox_port}", "--state", self.folder + "/sandbox"], "sandbox")
        self.api = f"http://127.0.0.1:{sandbox_port}/api/2.5"
        self.sandbox = f"http://127.0.0.1:{sandbox_port}"
        self.service = f"{'https' if self.tls else 'http'}://127.0.0.1:{service_port}"
        self.assertTrue(wait_until(lambda: http("GET", self.api + "/tenders") is not None))
        environment = dict(os.environ, AUCTIOND_LISTEN=f"127.0.0.1:{service_port}", AUCTIOND_PUBLIC_URL=self.service,
                           AUCTIOND_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", AUCTIOND_API_URL=self.api, AUCTIOND_FEED="on",
                           AUCTIOND_FEED_INTERVAL_MILLISECONDS="200", AUCTIOND_SYNC_INTERVAL_MILLISECONDS="200",
                           AUCTIOND_HASH_SECRETS="browser-test-secret-0123456789",
                           AUCTIOND_REDIS_DURABILITY="relaxed", AUCTIOND_WEB_DIR=os.path.join(ROOT, "Web"))
        if self.tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.folder + "/key.pem",
                            "-out", self.folder + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            environment.update(AUCTIOND_TLS_CERTIFICATE=self.folder + "/cert.pem", AUCTIOND_TLS_PRIVATE_KEY=self.folder + "/key.pem")
        self.start([os.path.join(BUILD, "auctiond"), "serve"], "auctiond", environment)
        self.assertTrue(wait_until(lambda: http("GET", self.service + "/healthz")["status"] == "ok"))
        self.drivers = []
        os.makedirs(SHOTS, exist_ok=True)

    def start(self, command, name, environment=None):
        with open(os.path.join(self.folder, name + ".log"), "w") as log:
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=ROOT))

    def tearDown(self):
        for driver in self.drivers:
            driver.quit()
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        # The processes' logs stay in run/browser-logs/<test>/ for a failure to be read.
        logs = os.path.join(ROOT, "run", "browser-logs", self.id().rsplit(".", 1)[-1])
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(self.folder, logs, ignore=shutil.ignore_patterns("*.pem", "sandbox"))
        shutil.rmtree(self.folder, ignore_errors=True)

    def open(self, url, width=1280, height=800):
        driver = browser(width, height)
        self.drivers.append(driver)
        driver.get(url)
        return driver

    def shot(self, driver, name, width, height):
        driver.set_window_size(width, height)
        time.sleep(0.3)
        driver.save_screenshot(os.path.join(SHOTS, f"{name}-{width}x{height}.png"))

    @staticmethod
    def panel_shown(driver):
        return driver.find_element(By.ID, "bid-panel").is_displayed()

    def plan(self, start="now+15s"):
        """Puts the two-stage tender into the sandbox, accelerated, and returns its id and the
        participation links the service wrote back."""
        with open(os.path.join(ROOT, "Config", "sandbox", "tenders", "twostage-lowestcost.json")) as f:
            tender = json.load(f)["data"]
        # accelerator=30: first pause 10 s, pauses and turns 4 s; the whole auction in 42 s.
        tender["procurementMethodDetails"] = "quick, accelerator=30"
        tender["auctionPeriod"]["startDate"] = start
        http("POST", self.sandbox + "/sandbox/tenders", {"data": tender})
        tender_id = tender["id"]
        basic = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()

        def links():
            view = http("GET", f"{self.api}/tenders/{tender_id}/auction", headers={"Authorization": basic})["data"]
            return [bid["participationUrl"] for bid in view["bids"] if "participationUrl" in bid]
        self.assertTrue(wait_until(lambda: len(links()) == 2), "the service wrote no links")
        # The real API (and the sandbox) serve the private view only during the auction.
        return tender_id, links()

    def test_observer_and_two_bidders_go_through_an_auction(self):
        if self.tls:
            self.skipTest("the whole auction runs over plain HTTP; AuctionPageOverTLSTest bids over TLS")
        tender_id, participation = self.plan()
        observer = self.open(f"{self.service}/tenders/{tender_id}")
        bidders = [self.open(url) for url in participation]

        # Everyone is connected; nobody has a form before the auction starts.
        for driver in [observer] + bidders:
            self.assertTrue(wait_until(lambda: driver.find_element(By.ID, "connection").get_attribute("data-state") == "connected"))
            self.assertFalse(self.panel_shown(driver))
        self.assertTrue(wait_until(lambda: "Учасник" in bidders[0].find_element(By.ID, "role").text or "Bidder" in bidders[0].find_element(By.ID, "role").text))
        self.assertEqual(observer.find_element(By.ID, "role").text, "Ви спостерігач")

        # The first turn: the form appears for exactly one bidder.
        self.assertTrue(wait_until(lambda: any(self.panel_shown(d) for d in bidders), timeout=40), "no turn form appeared")
        active = next(d for d in bidders if self.panel_shown(d))
        waiting = next(d for d in bidders if d is not active)
        self.assertFalse(self.panel_shown(waiting))
        self.assertEqual(len(observer.find_elements(By.CSS_SELECTOR, "#bid-panel:not([hidden])")), 0)

        # A too-high bid is refused with the Ukrainian explanation; a valid one is acknowledged.
        limit = active.find_element(By.ID, "limit").get_attribute("data-limit")
        amount = active.find_element(By.ID, "amount")
        amount.clear()
        amount.send_keys("479.99")
        active.find_element(By.ID, "place").click()
        self.assertTrue(wait_until(lambda: "Занадто висока ціна" in active.find_element(By.ID, "bid-status").text, timeout=3),
                        active.find_element(By.ID, "bid-status").text)
        amount.clear()
        amount.send_keys(limit)
        active.find_element(By.ID, "place").click()
        self.assertTrue(wait_until(lambda: "прийнята" in active.find_element(By.ID, "bid-status").text, timeout=3))
        # The observer's countdown never speaks of "your turn".
        self.assertNotIn("вашого", observer.find_element(By.ID, "countdown-label").text)
        self.shot(active, "bidder-turn", 1280, 800)
        self.shot(observer, "observer-running", 1280, 800)

        # At the turn's end the price is published to everyone, marked as changed.
        published = limit.replace(".", ",")
        self.assertTrue(wait_until(lambda: published in observer.find_element(By.ID, "stages").text, timeout=10))
        self.assertIn("змінено", observer.find_element(By.ID, "stages").text)
        # The protocol gives the bid's server time to the millisecond, beside the turn's start.
        changed = observer.find_element(By.CSS_SELECTOR, "#stages tr.changed").find_elements(By.TAG_NAME, "td")
        self.assertRegex(changed[-1].text, r"^\d{1,2}:\d\d:\d\d\.\d{3}$")
        self.assertFalse(self.panel_shown(active))

        # The language switch: English on the observer's page.
        observer.find_element(By.CSS_SELECTOR, "#language option[value='en']").click()
        self.assertTrue(wait_until(lambda: observer.find_element(By.ID, "stages-heading").text == "Auction progress"))

        # The results and the names appear once the API has the results.
        self.assertTrue(wait_until(lambda: observer.find_element(By.ID, "status").text == "Results announced", timeout=60),
                        observer.find_element(By.ID, "status").text)
        self.assertIn("ДКП «Школяр»", observer.find_element(By.ID, "results").text)
        # The record's fingerprint, by which the audit document is checked (docs/AUDIT.md).
        self.assertTrue(observer.find_element(By.ID, "record").is_displayed())
        self.assertIn("Record fingerprint (SHA-256)", observer.find_element(By.ID, "record").text)
        self.assertRegex(observer.find_element(By.ID, "chain-head").text, r"^[0-9a-f]{64}$")
        self.assertTrue(observer.find_element(By.ID, "audit-link").get_attribute("href").endswith(f"/api/v1/auctions/{tender_id}/audit"))
        self.assertTrue(wait_until(lambda: "Результати аукціону" == active.find_element(By.ID, "results-heading").text))
        self.shot(observer, "observer-results", 390, 844)
        self.shot(active, "bidder-results", 390, 844)
        self.shot(observer, "observer-results", 1280, 800)

        # A forged link says so and leaves an observer.
        waiting.get(participation[0].split("&hash=")[0] + "&hash=" + "0" * 32)
        self.assertTrue(wait_until(lambda: waiting.find_element(By.ID, "link-problem").is_displayed(), timeout=5))
        self.assertIn("недійсне", waiting.find_element(By.ID, "link-problem").text)


    def test_a_meat_auction_shows_price_coefficient_and_normalised_price(self):
        """After a MEAT auction the protocol shows each price beside the bidder's coefficient and
        the normalised price that ranks, and links the audit document the service replays."""
        if self.tls:
            self.skipTest("the page's protocol is the same over TLS")
        with open(os.path.join(ROOT, "Config", "sandbox", "tenders", "meat.json")) as f:
            tender = json.load(f)["data"]
        tender["procurementMethodDetails"] = "quick, accelerator=100"
        tender["auctionPeriod"]["startDate"] = "now+3s"
        http("POST", self.sandbox + "/sandbox/tenders", {"data": tender})
        observer = self.open(f"{self.service}/tenders/{tender['id']}")
        self.assertTrue(wait_until(lambda: observer.find_element(By.ID, "status").text == "Результати оголошено", timeout=90),
                        observer.find_element(By.ID, "status").text)
        head = [cell.text for cell in observer.find_elements(By.CSS_SELECTOR, "#stages-head th")]
        self.assertEqual(head, ["Етап", "Учасник", "Ціна", "Коефіцієнт", "Приведена ціна", "Час", "Час ставки"])
        # The first initial bid: its price, its coefficient (the exact fraction as the title), the normalised price.
        initial = observer.find_elements(By.CSS_SELECTOR, "#stages tbody tr")[1].find_elements(By.TAG_NAME, "td")
        self.assertRegex(initial[2].text, r"^\d[\d\s]*,\d\d$")
        self.assertRegex(initial[3].text, r"^\d(,\d+)?$")
        self.assertTrue(initial[3].get_attribute("title"), "the exact fraction is the cell's title")
        self.assertRegex(initial[4].text, r"^\d[\d\s]*,\d\d$")
        self.assertIn("Коефіцієнт", observer.find_element(By.ID, "results").text)
        link = observer.find_element(By.ID, "audit-link").get_attribute("href")
        with urllib.request.urlopen(link, timeout=5) as answer:
            self.assertTrue(answer.headers["Content-Type"].startswith("application/yaml"))
            document = answer.read().decode()
        self.assertIn(observer.find_element(By.ID, "chain-head").text, document)
        self.assertIn("coefficient:", document)
        self.shot(observer, "observer-meat-protocol", 1280, 800)


class AuctionPageOverTLSTest(AuctionPageTest):
    """The page over https and its WebSocket over wss: links written with https, an observer and a
    bidder connected, a bid acknowledged; a plain-HTTP request to the TLS port gets no page."""
    tls = True

    def test_a_bidder_bids_over_wss(self):
        tender_id, participation = self.plan(start="now+5s")
        self.assertTrue(all(url.startswith(self.service + "/") for url in participation), participation)
        observer = self.open(f"{self.service}/tenders/{tender_id}")
        bidders = [self.open(url) for url in participation]
        for driver in [observer] + bidders:
            connected = wait_until(lambda: driver.find_element(By.ID, "connection").get_attribute("data-state") == "connected")
            self.assertTrue(connected, (driver.find_element(By.ID, "connection").get_attribute("data-state"), driver.current_url,
                                        driver.execute_script("return document.title"), driver.get_log("browser")))
        self.assertTrue(all(d.execute_script("return location.protocol") == "https:" for d in [observer] + bidders))
        self.assertTrue(wait_until(lambda: any(self.panel_shown(d) for d in bidders), timeout=40), "no turn form appeared")
        active = next(d for d in bidders if self.panel_shown(d))
        limit = active.find_element(By.ID, "limit").get_attribute("data-limit")
        amount = active.find_element(By.ID, "amount")
        amount.clear()
        amount.send_keys(limit)
        active.find_element(By.ID, "place").click()
        self.assertTrue(wait_until(lambda: "прийнята" in active.find_element(By.ID, "bid-status").text, timeout=3))
        published = limit.replace(".", ",")
        self.assertTrue(wait_until(lambda: published in observer.find_element(By.ID, "stages").text, timeout=10))
        # Plain HTTP to the TLS port: no page, the connection closed; https still answers.
        port = int(self.service.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=3) as plain:
            plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            try:
                while chunk := plain.recv(4096):
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        self.assertNotIn(b"HTTP/1.1 200", answer)
        self.assertEqual(http("GET", self.service + "/healthz")["status"], "ok")


if __name__ == "__main__":
    unittest.main()
