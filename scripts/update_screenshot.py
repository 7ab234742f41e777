"""Refresh docs/screenshot.png (the README's picture): the chat page with a real answer and a
follow-up, the first citation open.

Serves the app on the real models from a throwaway data folder with the sample article added,
and drives Debian's Chromium with Playwright (the browser tests' setup), offline:

    .venv/bin/python scripts/update_screenshot.py            # writes docs/screenshot.png
    .venv/bin/python scripts/update_screenshot.py --out /tmp/shot.png
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "hamas-leader-met-iran-commander.txt"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
QUESTIONS = ("Who did Mashaal meet?", "Where?")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, api_key: str) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn in a subprocess on a free port, once /healthz answers."""
    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_API_KEY": api_key,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # the models load at start
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit("the server did not become healthy in 300 s")
        time.sleep(0.5)


def screenshot(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 960},
                                   service_workers="block").new_page()
        page.set_default_timeout(60_000)
        page.goto(base + "/")
        page.wait_for_selector("#doc-list li")
        for turn, question in enumerate(QUESTIONS):
            page.locator("#question").fill(question)
            page.locator("#question").press("Enter")
            card = page.locator("#thread > li").nth(turn).locator(".answer-card, .error-card")
            card.wait_for()
            if "error-card" in (card.get_attribute("class") or ""):
                raise SystemExit(f"{question!r} failed: {card.inner_text()}")
        card.locator("[data-citation]").first.click()
        page.locator("#article-body mark").wait_for()
        page.wait_for_timeout(1000)  # let the scroll to the highlight settle
        page.evaluate("document.activeElement.blur()")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Debian's Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    api_key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="qa-screenshot-") as data_dir:
        proc, base = serve(Path(data_dir), api_key)
        try:
            with SAMPLE.open("rb") as f:
                r = httpx.post(f"{base}/v1/documents", timeout=120,
                               headers={"Authorization": f"Bearer {api_key}"},
                               files={"file": (SAMPLE.name, f, "text/plain")})
            r.raise_for_status()
            screenshot(base, args.out)
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
