"""The documentation site in a real browser: the system's headless Chromium, driven by
Selenium through Debian's chromium-driver (no browser is downloaded at run time).

Every page of the built site is opened from a local server on 127.0.0.1, and checked for:
no TeX left untypeset by MathJax, every image loaded, every link inside the site leading to
a file of the site, and no console error. Search is asked for "batch norm". Screenshots of
the home page, lesson 4 and the page of F.conv2d are saved in the folder named by
$MINIRES_SCREENSHOTS (default: build/screenshots).

Marked `browser`; skipped without chromium, chromedriver, Selenium or the docs extra
(CI installs them all).
"""

import functools
import http.server
import os
import pathlib
import re
import shutil
import threading
import urllib.parse

import pytest

pytestmark = pytest.mark.browser

pytest.importorskip("mkdocs", reason="the site needs the docs extra (mkdocs)")
pytest.importorskip("jupyter_server_mathjax", reason="the site needs the docs extra (jupyter-server-mathjax)")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs the docs extra (selenium)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("the browser test needs Debian's chromium and chromium-driver", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCREENSHOTS = pathlib.Path(os.environ.get("MINIRES_SCREENSHOTS", ROOT / "build" / "screenshots"))
# TeX that MathJax should have typeset: a command, or a $...$ left in the text.
RAW_TEX = re.compile(r"\\(?:frac|partial|sum|prod|alpha|lambda|mathbb|mathcal|mathrm|lVert|odot|cdot)\b"
                     r"|\$\$|\$[^$\s][^$]{0,80}[\\^_][^$]{0,80}\$")

# The visible text of the page without code (where TeX-like text is legitimate), once MathJax is done.
VISIBLE_TEXT = """
const done = arguments[arguments.length - 1];
function text() {
  const copy = document.querySelector("article, .md-content, body").cloneNode(true);
  copy.querySelectorAll("pre, code, script, style, .MathJax_Preview, .highlight").forEach(n => n.remove());
  return copy.innerText;
}
if (window.MathJax && window.MathJax.Hub) { MathJax.Hub.Queue(() => done(text())); } else { done(text()); }
"""
BROKEN_IMAGES = """return Array.from(document.images)
    .filter(image => !(image.complete && image.naturalWidth > 0)).map(image => image.src.slice(0, 120));"""
LINKS = "return Array.from(document.querySelectorAll('a[href]')).map(link => link.href);"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_site):
    """(the built site's folder, the address a local server gives it)."""
    handler = functools.partial(QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield built_site, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def site_file(site_dir, base, url):
    """The file of the site that a same-origin URL names, or None for another origin."""
    if not url.startswith(base):
        return None
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path).lstrip("/")
    target = site_dir / path
    return target / "index.html" if target.is_dir() or path == "" else target


@pytest.fixture(scope="module")
def visits(site, browser):
    """{page: {"tex": [...], "images": [...], "links": [...], "console": [...]}} for every page."""
    site_dir, base = site
    pages = sorted(path.relative_to(site_dir).as_posix() for path in site_dir.rglob("*.html")
                   if path.name != "404.html")
    found = {}
    for page in pages:
        browser.get(base + page)
        WebDriverWait(browser, 30).until(lambda driver: driver.execute_script("return document.readyState")
                                         == "complete")
        text = browser.execute_async_script(VISIBLE_TEXT)
        missing = [url[len(base):] for url in browser.execute_script(LINKS)
                   if (target := site_file(site_dir, base, url.split("#")[0])) is not None and not target.is_file()]
        found[page] = {
            "tex": [match.group(0)[:60] for match in RAW_TEX.finditer(text)][:3],
            "images": browser.execute_script(BROKEN_IMAGES),
            "links": missing,
            "console": [entry["message"][:160] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"],
        }
    return found


def problems(visits, kind):
    return {page: found[kind] for page, found in visits.items() if found[kind]}


def test_the_site_has_every_page(visits):
    assert len(visits) >= 40, sorted(visits)


def test_all_maths_is_typeset(visits):
    assert not problems(visits, "tex"), f"TeX left untypeset: {problems(visits, 'tex')}"


def test_every_image_loads(visits):
    assert not problems(visits, "images"), f"images not loaded: {problems(visits, 'images')}"


def test_every_link_inside_the_site_leads_to_a_page(visits):
    assert not problems(visits, "links"), f"links to missing files: {problems(visits, 'links')}"


def test_no_page_logs_a_console_error(visits):
    assert not problems(visits, "console"), f"console errors: {problems(visits, 'console')}"


def test_search_finds_the_batch_norm_lesson(site, browser):
    _, base = site
    browser.get(base + "index.html")
    browser.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    field = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    field.send_keys("batch norm")
    results = WebDriverWait(browser, 30).until(
        lambda driver: [link.get_attribute("href") for link in
                        driver.find_elements(By.CSS_SELECTOR, ".md-search-result__link")] or None)
    assert any("lessons/02_layers.html" in href for href in results), results[:10]


def test_screenshots_of_three_pages(site, browser):
    _, base = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("home", "index.html"), ("lesson04", "lessons/04_identity_path.html"),
                       ("conv2d", "api/minires.functional.html#minires.functional.conv2d")):
        browser.get(base + page)
        browser.execute_async_script(VISIBLE_TEXT)                      # after MathJax
        path = SCREENSHOTS / f"{name}.png"
        assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
