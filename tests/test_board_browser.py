"""LLaMA-Board in a real headless browser: Debian's chromium + chromedriver, driven by selenium.

Needs `apt-get install chromium chromium-driver` (see `make test-browser`); nothing downloads a
browser (explicit driver path, SE_OFFLINE). Screenshots go to $PII_BOARD_SCREENSHOTS or tmp.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import workflows.board
from piifactory.child import python_m
from tests.test_board import BLOCK, PII_DATASETS, write_pack

pytestmark = pytest.mark.browser

# What a wait retries on: Gradio re-renders components (stale or missing for a moment) and its
# overlays can cover a button while an event runs.
RETRY = (
    NoSuchElementException,
    StaleElementReferenceException,
    ElementClickInterceptedException,
    ElementNotInteractableException,
)
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1900",
)
# Gradio's multiselect input and text boxes have no aria-label: find them by their block's label.
INPUT_BY_LABEL = """
for (const e of document.querySelectorAll('input, textarea')) {
  const b = e.closest('.block'); const l = b && b.querySelector('[data-testid=block-info]');
  if (l && l.textContent.trim() === arguments[0]) return e;
}"""

VALUE_BY_LABEL = "const e = (function () {" + INPUT_BY_LABEL + "}).apply(null, arguments); return e ? e.value : null;"
VALUE_BY_ARIA = "const e = document.querySelector(`input[aria-label='${arguments[0]}']`); return e ? e.value : null;"
# Read in the page in one go, so no element found a moment earlier can have been re-rendered.
OPTION_LABELS = "return Array.from(document.querySelectorAll('ul.options li'), li => li.getAttribute('aria-label'));"
PAGE_READY = "return document.readyState === 'complete' && (function () {" + INPUT_BY_LABEL + "})('Dataset') != null;"

# The command preview (re-rendered as it streams, so read and scrolled to in one go).
PREVIEW_TEXT = """
for (const c of document.querySelectorAll('code')) {
  if (c.textContent.includes('--pii_factory')) { c.scrollIntoView(); return c.textContent; }
}"""


def waiter(driver: webdriver.Chrome, timeout: float = 60) -> WebDriverWait:
    """A wait whose condition may meet an element Gradio has just replaced or covered: retry then."""
    return WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=RETRY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"board exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"board not up at {url} after {timeout}s:\n{log.read_text()}")


@pytest.fixture
def board(tmp_path: Path):
    """`python -m workflows.board` on a free port over a tiny pack; stopped in teardown."""
    (tmp_path / "pack").mkdir()
    root, port, log = write_pack(tmp_path / "pack"), free_port(), tmp_path / "board.log"
    cmd = [*python_m(workflows.board), "--root", str(root), "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", proc, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def browser(tmp_path: Path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    assert not missing, f"{missing} missing: `make test-browser` installs Debian's chromium and chromium-driver"
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("PII_BOARD_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / name))
    print(f"screenshot: {folder / name}")
    return folder / name


def stable(driver: webdriver.Chrome, read, timeout: float = 60):
    """Poll ``read(driver)`` until it returns the same non-empty value twice in a row.

    Gradio re-renders components while events stream in, so a value read once may be a half-drawn
    state; two equal reads a poll apart are the page's own settled state, not a guessed sleep.
    """
    seen: list = []

    def settled(d: webdriver.Chrome):
        value = read(d)
        seen.append(value)
        return value if value and len(seen) > 1 and seen[-2] == value else None

    return waiter(driver, timeout).until(settled)


def by_label(driver: webdriver.Chrome, label: str):
    """The input of the block labelled ``label``, found now (Gradio gives it no aria-label)."""
    element = driver.execute_script(INPUT_BY_LABEL, label)
    if element is None:
        raise NoSuchElementException(f"no input labelled {label!r}")
    return element


def click(driver: webdriver.Chrome, by: str, selector: str, timeout: float = 60) -> None:
    """Find the element afresh and click it, retrying while Gradio swaps or covers it."""
    waiter(driver, timeout).until(lambda d: d.find_element(by, selector).click() or True)


def open_options(driver: webdriver.Chrome, field_label: str, by_aria: bool = False) -> list[str]:
    """Open a dropdown (found afresh) and return its options once LLaMA-Board has filled them."""
    if by_aria:
        click(driver, By.CSS_SELECTOR, f"input[aria-label='{field_label}']")
    else:
        waiter(driver).until(lambda d: by_label(d, field_label).click() or True)
    return stable(driver, lambda d: d.execute_script(OPTION_LABELS))


def test_board_lists_pii_datasets_and_loads_a_recipe(board: str, browser: webdriver.Chrome, tmp_path: Path) -> None:
    browser.get(board)
    # The page is live once the document has loaded and the board has applied its language
    # (labels arrive then), not merely when the server answered.
    waiter(browser).until(lambda d: d.execute_script(PAGE_READY))
    assert browser.title.startswith("LLaMA Factory")
    assert stable(browser, lambda d: d.execute_script(VALUE_BY_LABEL, "Data dir")) == "."

    assert open_options(browser, "Dataset") == PII_DATASETS
    assert screenshot(browser, tmp_path, "board_datasets.png").stat().st_size > 0
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    waiter(browser).until(lambda d: not d.execute_script(OPTION_LABELS))  # the Dataset list is gone

    assert "recipe_pii_demo.yaml" in open_options(browser, "Config path", by_aria=True)
    click(browser, By.CSS_SELECTOR, "ul.options li[aria-label='recipe_pii_demo.yaml']")
    waiter(browser).until(lambda d: d.execute_script(VALUE_BY_ARIA, "Config path") == "recipe_pii_demo.yaml")
    click(browser, By.XPATH, "//button[normalize-space()='Load arguments']")
    waiter(browser).until(lambda d: d.execute_script(VALUE_BY_ARIA, "Model name") == "PII-tiny-qwen3")

    # The board's own command preview: what it would write to training_args.yaml.
    click(browser, By.XPATH, "//button[normalize-space()='Preview command']")
    command = stable(browser, lambda d: d.execute_script(PREVIEW_TEXT))
    screenshot(browser, tmp_path, "board_recipe_preview.png")
    for line in (
        "--model_name_or_path .cache/tiny-qwen3",
        "--template qwen3",
        "--dataset pii_synth_train",
        "--dataset_dir .",
    ):
        assert line in command
    block = next(line for line in command.splitlines() if "--pii_factory" in line)
    assert json.loads(block.split("--pii_factory", 1)[1].rstrip(" \\")) == BLOCK
