"""Take a full-page PNG of every dashboard page: ``python -m dashboards.screenshots OUT_DIR``.

Starts ``streamlit run dashboards/streamlit_app.py`` on a free local port with the current
environment (set ``CIVICLOOP_DATA_DIR``), or uses ``--url`` of a running app. Drives Debian's
``/usr/bin/chromium`` through Playwright (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
APP = Path(__file__).resolve().parent / "streamlit_app.py"
PAGES = [
    ("overview", ""),
    ("consideration", "consideration?consideration=1"),
    ("equity", "equity"),
    ("resident_voice", "resident-voice"),
    ("survey", "survey"),
    ("data_health", "data-health"),
    ("quarterly_review", "quarterly-review"),
    ("national", "national"),
]


WIDTH = 1400
MAX_HEIGHT = 12_000
CONTENT_HEIGHT_JS = """() => Math.max(document.body.scrollHeight,
    ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],'
        + ' [data-testid="stMainBlockContainer"]')].map(e => e.scrollHeight))"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[str]:
    """Start the app headless on 127.0.0.1 and yield its base URL; stop its process group."""
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "streamlit"),
        "run",
        str(APP),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "streamlit did not start: " + (proc.stderr.read().decode() if proc.stderr else "")
                )
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_rendered(page, timeout_ms: int = 60_000) -> None:
    """Wait for the script run to finish (title shown, no running indicator)."""
    page.wait_for_selector("h1", timeout=timeout_ms)
    # every page ends with this caption, so the script run is complete when it shows
    page.get_by_text("Published snapshot of").first.wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )
    try:  # charts draw after the script run; wait until each one has its canvas or svg
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                     .every(c => c.querySelector('canvas, svg'))""",
            timeout=20_000,
        )
    except Exception:
        pass
    page.wait_for_timeout(1500)


def take(base: str, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
        for name, path in PAGES:
            page.set_viewport_size({"width": WIDTH, "height": 1000})
            page.goto(f"{base}/{path}")
            wait_rendered(page)
            # Streamlit scrolls inside its main section, so a "full page" shot stops at the
            # viewport: grow the viewport to the content first
            height = page.evaluate(CONTENT_HEIGHT_JS)
            page.set_viewport_size({"width": WIDTH, "height": min(MAX_HEIGHT, height + 40)})
            page.wait_for_timeout(1500)  # charts re-lay out at the new size
            target = out_dir / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            shots.append(target)
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--url", help="base URL of a running app (default: start one)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian's chromium package first")
    if args.url:
        shots = take(args.url.rstrip("/"), args.out_dir)
    else:
        with running_app() as base:
            shots = take(base, args.out_dir)
    for shot in shots:
        print(shot)


if __name__ == "__main__":
    main()
