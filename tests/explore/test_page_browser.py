"""The explore page in a real browser: headless Chromium opens it from file://, a span and units are
selected by script, and what the page shows is checked against what Python computes from the same data.

Needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver) and selenium
(in the test extra); without them this module is skipped, saying so.
"""

import io
import shutil

import numpy as np
import pytest
from test_page import char_model, decode, quote_corpus, runs, shown_values

from rnnlab import explore
from rnnlab.explore import finder

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip(
        "the browser test needs Chromium and its driver: apt-get install -y chromium chromium-driver "
        "(.ci/run installs them)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="the browser test needs selenium: pip install -e '.[test]'"
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.usefixtures("reference_kernels"), pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


def open_page(driver, path):
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.ready || ''") in ("1", "error")
    )
    assert driver.execute_script("return document.body.dataset.ready") == "1", driver.find_element(By.ID, "status").text


def severe_logs(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


SELECT = """
const [a, b] = arguments, spans = document.querySelectorAll('#text span.t');
const r = document.createRange(); r.setStartBefore(spans[a]); r.setEndAfter(spans[b - 1]);
const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
document.getElementById('text').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
"""
RANKED = "return [...document.querySelectorAll('#ranked li')].map(li => [+li.dataset.unit, +li.dataset.score])"
FIRING = "return [...document.querySelectorAll('#text span.t')].map(s => s.classList.contains('fire'))"
LISTED = "return [...document.querySelectorAll('#matches li')].map(li => [+li.dataset.start, +li.dataset.end])"


def check_ranked(driver, x, span):
    shown = driver.execute_script(RANKED)
    order, scores = finder.rank(x, [span], top=len(shown))
    assert [u for u, _ in shown] == order.tolist()
    np.testing.assert_allclose([s for _, s in shown], scores, rtol=1e-12, atol=1e-12)
    return order


def check_firing(driver, x, picked, span):
    expected = finder.firing_spans(x, picked, [span])
    assert runs(driver.execute_script(FIRING)) == expected
    assert driver.execute_script(LISTED) == [list(s) for s in expected[:300]]
    return expected


def test_text_page_in_chromium(browser, tmp_path):
    corpus, inside, _ = quote_corpus()
    corpus = corpus[:1500]
    lm = char_model(corpus, hidden=16)
    path = explore.page(lm, corpus, tmp_path / "page.html")
    meta, blob = decode(open(path, encoding="utf-8").read())
    open_page(browser, tmp_path / "page.html")

    # a span by script, as a mouse selection: the ranked list is finder.rank on the page's own numbers
    span = runs(inside[:1500])[2]
    browser.execute_script(SELECT, *span)
    assert browser.execute_script("return window.explore.state.sel") == list(span)
    h = shown_values(meta, blob, 0, "h")
    order = check_ranked(browser, h, span)
    assert len(order) == 16

    # pick the best unit, then a second: the underlined spans and the list are finder.firing_spans
    boxes = browser.find_elements(By.CSS_SELECTOR, "#ranked li input")
    boxes[0].click()
    first = check_firing(browser, h, [order[0]], span)
    assert first  # the best unit is on in the selection, so it fires somewhere
    boxes[1].click()
    both = check_firing(browser, h, [order[0], order[1]], span)
    assert sum(b - a for a, b in both) <= sum(b - a for a, b in first)

    # the gates view shows the record's numbers for the picked units
    gates = browser.execute_script("return window.explore.gates")
    a, b = gates["start"], gates["end"]
    assert {(r["q"], r["unit"]) for r in gates["rows"]} == {
        (q, int(u)) for q in meta["layers"][0]["quantities"] for u in order[:2]
    }
    for row in gates["rows"]:
        np.testing.assert_array_equal(row["values"], shown_values(meta, blob, 0, row["q"])[row["unit"], a:b])

    # another quantity: the ranking follows it
    Select(browser.find_element(By.ID, "quantity")).select_by_value("c")
    check_ranked(browser, shown_values(meta, blob, 0, "c"), span)

    # a unit chosen in the box, then a character hovered: the value and the top prediction
    unit = browser.find_element(By.ID, "unit")
    unit.clear()
    unit.send_keys("7")
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", unit)
    t = 40
    ActionChains(browser).move_to_element(browser.find_elements(By.CSS_SELECTOR, "#text span.t")[t]).perform()
    tip = browser.find_element(By.ID, "tip").text
    value = shown_values(meta, blob, 0, "c")[7, t]
    assert f"C of unit 7 = {value:.3f}" in tip
    top = np.frombuffer(blob, np.uint16, 5, meta["top"]["ids"]["offset"] + 2 * 5 * t)
    assert tip.splitlines()[3].strip().startswith(repr(meta["vocab"][top[0]]).replace("'", '"'))

    # nothing logged as an error; the screenshot is not blank
    assert browser.execute_script("return window.explore.errors") == []
    assert severe_logs(browser) == []
    check_screenshot(browser)
    assert browser.execute_script("return window.explore.readyMs") < 10_000


def check_screenshot(driver):
    import matplotlib.image

    img = matplotlib.image.imread(io.BytesIO(driver.get_screenshot_as_png()), format="png")
    assert img.shape[0] >= 600 and img.shape[1] >= 1000
    colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert img[..., :3].std() > 0.05 and len(colours) > 50


def test_task_page_in_chromium(browser, tmp_path):
    import rnnlab as rl

    model = rl.Sequential([rl.LSTM(6), rl.Dense(1)], seed=0)
    model.predict(np.zeros((1, 8, 2), dtype=np.float32))
    path = explore.page(model, "adding", tmp_path / "adding.html", samples=3)
    meta, blob = decode(open(path, encoding="utf-8").read())
    open_page(browser, tmp_path / "adding.html")
    span = (60, 70)  # inside the second sequence
    browser.execute_script(SELECT, *span)
    order = check_ranked(browser, shown_values(meta, blob, 0, "h"), span)
    browser.find_elements(By.CSS_SELECTOR, "#ranked li input")[0].click()
    expected = finder.firing_spans(shown_values(meta, blob, 0, "h"), [order[0]], [span], meta["segments"])
    # spans stop at the end of a sequence: the list says so; the underlines are their union
    assert browser.execute_script(LISTED) == [list(s) for s in expected]
    fired = np.zeros(meta["shown"], dtype=bool)
    for a, b in expected:
        fired[a:b] = True
    assert browser.execute_script(FIRING) == fired.tolist() and fired.any()
    drawn = browser.execute_script(
        "const c = document.getElementById('input'); return [c.height, "
        "Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
        ".filter((v, k) => k % 4 == 3 && v).length]"
    )
    assert drawn[0] > 0 and drawn[1] > 1000  # the values and markers are drawn
    assert browser.execute_script("return window.explore.errors") == []
    assert severe_logs(browser) == []
