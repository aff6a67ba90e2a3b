"""The prediction browser in a real browser: JupyterLab on 127.0.0.1, headless Chromium through Playwright.

Needs Debian's chromium (`scripts/install_system_deps.sh browser`, run by CI); skipped without it unless
VPR_REQUIRE_BROWSER=1 (as in CI), where its absence is a failure."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

if not Path(CHROMIUM).is_file():
    if os.environ.get("VPR_REQUIRE_BROWSER"):
        pytest.fail(f"chromium not found at {CHROMIUM}: run scripts/install_system_deps.sh browser",
                    pytrace=False)
    pytest.skip("chromium not installed (scripts/install_system_deps.sh browser)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path, fake_run, results_tmp):
    """JupyterLab serving a notebook that shows the browser on two runs of the constructed example."""
    import shutil as sh
    sh.copytree(results_tmp / "runs" / "fake-run", results_tmp / "runs" / "other-run")
    root = tmp_path / "lab"
    root.mkdir()
    code = (f"from vpr_lib.viz.browser import PredictionBrowser\n"
            f"browser = PredictionBrowser({{'a': 'fake-run', 'b': 'other-run'}}, {str(fake_run)!r}, "
            f"test_sets=('sf_xs/test',), k=3, size=48)\nbrowser.widget")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, root / "browser.ipynb")
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps({"@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false", "checkForUpdates": False}}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, VPR_RESULTS=str(results_tmp), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", "--allow-root", f"--ServerApp.root_dir={root}",
         f"--IdentityProvider.token={token}", f"--LabApp.app_settings_dir={settings}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield base, token, tmp_path
    finally:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST"),
                                   timeout=5)
            server.wait(timeout=20)
        except Exception:  # noqa: BLE001 (the server must go, whatever happened)
            server.kill()


def test_browser_widget_renders_and_changes_query_in_chromium(lab):
    from playwright.sync_api import sync_playwright
    base, token, tmp_path = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        try:
            page.goto(f"{base}/lab/tree/browser.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            try:  # a fresh JupyterLab may ask which kernel to start: the notebook's own
                page.click(".jp-Dialog button.jp-mod-accept", timeout=10_000)
            except Exception:  # noqa: BLE001 (no dialog: the kernel starts by itself)
                pass
            page.click("li.lm-MenuBar-item:has-text('Run')")
            page.click("li.lm-Menu-item:has-text('Run All Cells')")
            page.wait_for_selector(".widget-slider", timeout=60_000)
            images = page.locator(".jp-OutputArea img")
            images.first.wait_for(timeout=30_000)
            info = page.locator(".jp-OutputArea .widget-html").first
            assert "query 0" in info.inner_text()
            assert images.count() == 2  # the two runs side by side
            before = images.first.get_attribute("src")
            page.locator(".widget-slider .noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("() => document.querySelector('.jp-OutputArea .widget-html')"
                                   ".innerText.includes('query 1')", timeout=30_000)
            # a new image is shown (the image widget may update a moment after the text: wait for it)
            page.wait_for_function("(before) => document.querySelector('.jp-OutputArea img').src !== before",
                                   arg=before, timeout=30_000)
            assert images.first.get_attribute("src") != before
        finally:
            page.screenshot(path=str(tmp_path / "browser.png"))
            browser.close()
