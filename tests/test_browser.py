"""A real browser: Debian's Chromium, driven by Selenium, against `streamlit run app.py`."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import store
from assistant.bench import chat_load
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import fixture_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _serve(tmp_path: Path, embedder=None) -> Iterator[str]:
    """`streamlit run app.py` over the fixture corpus indexed by ``embedder`` (the packaged
    model when None); skips, or fails under HCPCS_REQUIRE_BROWSER=1, without Chromium."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("HCPCS_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromium-driver are not installed")
        pytest.skip("chromium and chromium-driver are not installed")
    env = dict(os.environ)
    env.update(fixture_env(tmp_path))
    store.build_index(Settings.from_env(env), embedder=embedder)
    with chat_load.streamlit_server(env, cwd=tmp_path, log_path=tmp_path / "streamlit.log") as srv:
        yield srv.url


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path, HashEmbedder())


@pytest.fixture
def loading_server(tmp_path: Path) -> Iterator[str]:
    """As ``server``, with the fixture indexed by the real packaged model: a fresh server then
    takes seconds to load it, as `make run` does, so a question can arrive meanwhile."""
    yield from _serve(tmp_path)


INPUT = "textarea[data-testid='stChatInputTextArea']"
MESSAGES = "[data-testid='stChatMessage']"


def chromium(tmp_path: Path):
    """Headless Debian Chromium with a profile of its own, nothing fetched in the background."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_question_in_a_real_browser(server: str, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path)
    try:
        driver.get(server)
        wait = WebDriverWait(driver, 60)
        box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, INPUT)))
        sent = time.monotonic()
        box.send_keys("cpap device", Keys.ENTER)
        wait.until(lambda d: "does not, of itself, determine coverage" in d.page_source)
        first = time.monotonic() - sent
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "Code E0601" in body
        assert "Continuous positive airway pressure (cpap) device" in body
        box = driver.find_element(By.CSS_SELECTOR, INPUT)
        sent = time.monotonic()
        box.send_keys("what about the heated humidifier for it?", Keys.ENTER)

        def follow_up_answered(d) -> bool:
            shown = d.find_elements(By.CSS_SELECTOR, MESSAGES)
            return len(shown) == 4 and "coverage" in shown[-1].text

        wait.until(follow_up_answered)
        second = time.monotonic() - sent
        last = driver.find_elements(By.CSS_SELECTOR, MESSAGES)[-1].text
        # The follow-up's best match is the heated humidifier, read with the first turn.
        assert last[last.index("Code ") :].startswith("Code E0562")
        shot = tmp_path / "chat.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        artefacts = os.environ.get("HCPCS_ARTIFACTS")
        if artefacts:
            Path(artefacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(artefacts) / "chat.png")
        print(f"\nbrowser: first answer {first:.2f} s, follow-up {second:.2f} s")
    finally:
        driver.quit()


def test_a_question_sent_while_the_first_is_loading_loses_no_answer(
    loading_server: str, tmp_path: Path
):
    """On a freshly started server the first question waits for the model and indexes to load
    ("Reading the codebook..."). A second question sent meanwhile stops that run: the first
    answer must still appear, before the second, and the follow-up be read with it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path)
    try:
        driver.get(loading_server)
        wait = WebDriverWait(driver, 90)
        box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, INPUT)))
        box.send_keys("cpap device", Keys.ENTER)
        wait.until(lambda d: "Reading the codebook" in d.find_element(By.TAG_NAME, "body").text)
        time.sleep(0.3)
        # The point of the test: the first answer has not come yet when the second is sent.
        assert "determine coverage" not in driver.find_element(By.TAG_NAME, "body").text
        box = driver.find_element(By.CSS_SELECTOR, INPUT)
        box.send_keys("what about the heated humidifier for it?", Keys.ENTER)

        def settled(d) -> bool:
            body = d.find_element(By.TAG_NAME, "body").text
            shown = d.find_elements(By.CSS_SELECTOR, MESSAGES)
            return (
                "Reading the codebook" not in body
                and bool(shown)
                and "determine coverage" in shown[-1].text
                and "heated humidifier for it" in body
            )

        wait.until(settled)
        time.sleep(1.0)  # anything still to come would have come by now
        texts = [m.text for m in driver.find_elements(By.CSS_SELECTOR, MESSAGES)]
        assert len(texts) == 4, f"two questions and {len(texts) - 2} answers: {texts}"
        assert texts[0].endswith("cpap device")
        assert "Code E0601" in texts[1] and "determine coverage" in texts[1]
        assert texts[2].endswith("what about the heated humidifier for it?")
        assert texts[3][texts[3].index("Code ") :].startswith("Code E0562")
    finally:
        driver.quit()
