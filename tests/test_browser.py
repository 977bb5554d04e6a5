"""Neo4j Browser, served by the test server's HTTP connector (`LocalNeo4j(http_port=...)`), in a real
headless Chromium (the Debian packages `chromium` and `chromium-driver`, driven by Selenium): it logs
in with the test password, the Browser opens kgtoolkit's guide and applies its style, the guide's
`:param` blocks and query for one graph_schema/QUERIES.md query give on the page the rows the same
Cypher gives over Bolt, and the style colours a drawn graph.

Chromium missing is a failure in CI (CI=true; .ci/run installs it) and a skip elsewhere.
KGTOOLKIT_BROWSER_SCREENSHOT=PATH keeps a screenshot of the page with the result (docs/browser.png
comes from there)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import wipe_neo4j
from kgtoolkit.graph.neo4j_store import Neo4jGraphStore
from kgtoolkit.ingest import IngestOptions, ingest
from kgtoolkit.synth import generate

REPO = Path(__file__).resolve().parents[1]
QUERY_TITLE = "Movements shared by two actions"
TIMEOUT = 120.0


def _chromium() -> tuple[str, str]:
    """The Chromium binary and its matching chromedriver, or a failure (CI) / skip (elsewhere)."""
    binary = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if p and os.access(p, os.X_OK)),
                  None)
    driver = shutil.which("chromedriver")
    if binary and driver:
        return binary, driver
    message = "headless Chromium is missing: apt-get install chromium chromium-driver (scripts/bootstrap does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium with a profile of its own, deleted after: the Browser keeps the connection's
    credentials in the page's storage (tests/test_security.py looks for the password in every file
    the session leaves), and chromedriver's log would hold the typed password, so it keeps none."""
    binary, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="kgtoolkit-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        try:
            driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path,
                                                                       log_output=subprocess.DEVNULL))
        except Exception as error:  # noqa: BLE001 - a browser that does not start is this test's failure
            pytest.fail(f"{binary} with {driver_path} did not start: {error}")
        driver.set_page_load_timeout(TIMEOUT)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory: pytest.TempPathFactory, neo4j_uri: str) -> str:
    root = tmp_path_factory.mktemp("browser") / "ktps"
    generate(root, classes=3, train_per_class=3, test_per_class=1, frames=4, size=32, seed=5)
    with Neo4jGraphStore(neo4j_uri) as store:
        wipe_neo4j(store)
        store.apply_schema()
        ingest(root, store, IngestOptions(workers=1))
    return neo4j_uri


def _wait(driver, condition, what: str, timeout: float = TIMEOUT):
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = condition(driver)
        except WebDriverException:
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"Neo4j Browser: {what} did not happen within {timeout:.0f} s; page text:\n"
                         + driver.find_element("tag name", "body").text[-2000:])


def _run(driver, command: str) -> None:
    """Type `command` into the Browser's editor (one insertion, as a paste: no auto-closed brackets or
    accepted completions) and press its Run button."""
    from selenium.webdriver.common.by import By

    editor = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="activeEditor"] textarea'),
                   "the editor showing")
    driver.execute_script("arguments[0].focus()", editor)
    driver.execute_cdp_cmd("Input.insertText", {"text": command})
    _wait(driver, lambda d: _click(d.find_element(By.CSS_SELECTOR, '[data-testid="editor-Run"]')), "the Run button")


def _frames(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, '[data-testid="frame"]')


def _table_rows(frame) -> list[list[str]] | None:
    from selenium.webdriver.common.by import By

    rows = frame.find_elements(By.CSS_SELECTOR, "table tbody tr")
    # textContent, not .text: Selenium's .text is empty for a cell scrolled out of view or still being drawn
    cells = [[(cell.get_attribute("textContent") or "").strip() for cell in row.find_elements(By.CSS_SELECTOR, "td")]
             for row in rows]
    return cells if cells and all(all(row) for row in cells) else None


def _json_in(text: str) -> dict | None:
    match = re.search(r"\{.*\}", text, re.S)
    try:
        return json.loads(match.group(0)) if match else None
    except ValueError:
        return None


def _shown(value) -> str:
    """How the Browser's table shows a value: strings in double quotes, numbers as they are."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def _click(element) -> bool:
    if not (element.is_displayed() and element.is_enabled()):
        return False
    element.click()
    return True


def _fill(driver, testid: str, text: str) -> None:
    """Type `text` into the login form's field once it takes input: the form is in the page before it
    is interactable (it can still be rendering or trying the URL's connection), and a field typed into
    too early raises ElementNotInteractableException, which `_wait` retries."""
    from selenium.webdriver.common.by import By

    def typed(d) -> bool:
        field = d.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        if not (field.is_displayed() and field.is_enabled()):
            return False
        field.clear()
        field.send_keys(text)
        return field.get_attribute("value") == text

    _wait(driver, typed, f"the {testid} field taking input")


def _login(driver, browser_url: str, bolt: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{browser_url}?dbms=bolt://neo4j@{bolt}")
    assert driver.title == "Neo4j Browser"
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="password"]'), "the login form")
    assert bolt in driver.find_element(By.CSS_SELECTOR, '[data-testid="boltaddress"]').get_attribute("value")
    _fill(driver, "username", "neo4j")
    _fill(driver, "password", os.environ["NEO4J_PASSWORD"])
    _wait(driver, lambda d: _click(d.find_element(By.CSS_SELECTOR, '[data-testid="connect"]')), "the Connect button")
    _wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="connect"]')
          and d.find_elements(By.CSS_SELECTOR, '[data-testid="activeEditor"]'), "logging in")


@pytest.mark.neo4j
@pytest.mark.slow
def test_the_browser_logs_in_opens_the_guide_and_shows_a_cookbook_query_s_rows(browser, small_graph,
                                                                               neo4j_browser_url):
    """Log in; the Browser opens kgtoolkit's guide (post-connect); the guide's `:params` block and
    query for one QUERIES.md query give, on the page, the rows Bolt gives; kgtoolkit's style colours
    the nodes."""
    from selenium.webdriver.common.by import By

    from kgtoolkit.server.browser import GUIDE_NAME, cookbook_queries, guide_html

    served = urllib.request.urlopen(neo4j_browser_url.replace("/browser/", f"/kgtoolkit/{GUIDE_NAME}"), timeout=10)
    assert served.read().decode() == guide_html()  # the guide of this checkout's QUERIES.md
    query = next(q for q in cookbook_queries() if q.title == QUERY_TITLE)
    commands = query.param_commands()
    assert all(command in html.unescape(guide_html()) for command in commands)
    with Neo4jGraphStore(small_graph) as store:  # what the page must show: the same Cypher over Bolt
        params = {}
        for command in commands:
            name, expression = command.removeprefix(":param ").split(" => ", 1)
            params[name] = store.cypher(f"RETURN {expression} AS value")[0]["value"]
        expected = store.cypher(query.cypher, params)
        action_name = store.cypher("MATCH (a:Action {id: $id}) RETURN a.name AS n", {"id": params["first"]})[0]["n"]
    assert expected and None not in params.values(), "the small graph gives the query no rows: nothing to show"

    _login(browser, neo4j_browser_url, small_graph.split("://", 1)[1])
    _wait(browser, lambda d: "kgtoolkit's knowledge graph" in d.find_element(
        By.CSS_SELECTOR, '[data-testid="guidesDrawer"]').text, "the guide opening in the sidebar")
    _wait(browser, lambda d: any("node.Action" in f.text for f in _frames(d)), "the style applying")

    for command in [*commands, ":params"]:  # the guide's blocks (a click puts one in the editor), then show them
        frames_before = len(_frames(browser))
        _run(browser, command)
        _wait(browser, lambda d: len(_frames(d)) > frames_before, f"running {command}")
    shown = _wait(browser, lambda d: _json_in(_frames(d)[0].text), "the :params frame showing the parameters")
    assert shown == params, shown
    frames_before = len(_frames(browser))
    _run(browser, query.cypher)
    frame = _wait(browser, lambda d: len(_frames(d)) > frames_before and _frames(d)[0], "a frame for the query")
    shown_rows = [[str(n), *(_shown(v) for v in row.values())] for n, row in enumerate(expected, start=1)]
    # the rows are drawn a few at a time: wait for the table Bolt gives (on a timeout the page text is shown)
    _wait(browser, lambda d: _table_rows(frame) == shown_rows, "the query's result table showing Bolt's rows")
    rows = _table_rows(frame)
    # the table: a row number, then the columns the query returns, in its order
    header = [(cell.get_attribute("textContent") or "").strip()
              for cell in frame.find_elements(By.CSS_SELECTOR, "table thead th")]
    assert header[1:] == list(expected[0]), header
    assert rows == shown_rows, rows
    assert not frame.find_elements(By.CSS_SELECTOR, '[data-testid="cypherFrameErrorMessage"]')

    frames_before = len(_frames(browser))
    _run(browser, "MATCH p = (a:Action {id: $first})-[:INVOLVES]->(m:BodyMovement) RETURN p")
    frame = _wait(browser, lambda d: len(_frames(d)) > frames_before and _frames(d)[0], "a frame for the graph")
    nodes = _wait(browser, lambda d: frame.find_elements(By.CSS_SELECTOR, "svg g.node"), "the graph drawing")
    # the caption is the name (kgtoolkit.grass: "{name}"), drawn in lines of a word or two
    _wait(browser, lambda d: action_name.split()[0] in frame.text, "the Action's caption")
    fills = {n.find_element(By.CSS_SELECTOR, "circle.b-outline").get_attribute("fill").upper() for n in nodes}
    assert {"#F79767", "#57C7E3"} <= fills, fills  # kgtoolkit.grass: Action orange, BodyMovement cyan

    # the guide's slide of that query: an intro slide, the cookbook's, then one per query
    slide = 2 + cookbook_queries().index(query)
    _run(browser, f":guide {neo4j_browser_url.replace('/browser/', f'/kgtoolkit/{GUIDE_NAME}')}#slide-{slide}")
    _wait(browser, lambda d: QUERY_TITLE in d.find_element(By.CSS_SELECTOR, '[data-testid="guidesDrawer"]').text
          and all(c in d.find_element(By.CSS_SELECTOR, '[data-testid="guidesDrawer"]').text for c in commands),
          "the guide's slide of the query")

    screenshot = os.environ.get("KGTOOLKIT_BROWSER_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)

    # the page kept the password in its storage (Community Browser); `:server disconnect` forgets it
    password = os.environ["NEO4J_PASSWORD"]
    assert password in browser.execute_script("return JSON.stringify(window.localStorage)")
    _run(browser, ":server disconnect")
    _wait(browser, lambda d: password not in d.execute_script("return JSON.stringify(window.localStorage)"),
          "the credentials leaving the page's storage")


def test_the_guide_has_a_slide_per_cookbook_query_with_its_param_blocks_and_query():
    from kgtoolkit.server.browser import cookbook_queries, guide_html

    queries = cookbook_queries()
    guide = guide_html()
    slides = re.findall(r"<slide>(.*?)</slide>", guide, re.S)
    assert len(queries) == 8 and len(slides) == 2 + len(queries)
    for query, slide in zip(queries, slides[2:]):
        blocks = [html.unescape(b) for b in re.findall(r'<pre class="runnable">(.*?)</pre>', slide, re.S)]
        assert blocks == [*query.param_commands(), query.cypher], query.title
        assert [c.split(" => ")[0] for c in query.param_commands()] == [f":param {p}" for p in query.params]
    assert "<script" not in guide.lower()


def test_a_cookbook_entry_with_an_unknown_placeholder_or_bad_params_is_a_clear_error():
    from kgtoolkit.server.browser import cookbook_queries

    text = ('# x\n\n## One\nText.\n<!-- params: {"video": "$NO_SUCH"} -->\n```cypher\nRETURN $video\n```\n'
            '## Two\n<!-- params: {"video": nope} -->\n```cypher\nRETURN 1\n```\n')
    with pytest.raises(ValueError, match=r"QUERIES.md: 'Two': its params comment is not JSON"):
        cookbook_queries(text)
    one = cookbook_queries(text.split("## Two")[0])[0]
    assert (one.title, one.description, one.cypher) == ("One", "Text.", "RETURN $video")
    with pytest.raises(ValueError, match=r"QUERIES.md: 'One': unknown placeholder \$NO_SUCH"):
        one.param_commands()


def test_the_style_colours_and_captions_every_label_of_the_model():
    from kgtoolkit.schema import LABELS
    from kgtoolkit.server.browser import STYLE_FILE

    rules = dict(re.findall(r"^node\.(\w+) \{\n(.*?)\n\}", STYLE_FILE.read_text(), re.S | re.M))
    assert set(rules) == set(LABELS)
    colours = [re.search(r"\bcolor: (#[0-9A-F]{6});", rule).group(1) for rule in rules.values()]
    assert len(set(colours)) == len(LABELS)  # one colour each
    assert all('caption: "{name}";' in rule for rule in rules.values())
