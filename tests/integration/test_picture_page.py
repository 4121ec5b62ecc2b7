"""The national picture page in a real browser (Debian's Chromium, driven by Playwright):
the demo's traffic through a worker on the real broker, the page drawing every
department with the API's figures, following a unit status sent during the test, the
exercise picture only when asked for, and saying when the hub is not ready or the data
is old. The screenshot is kept as a test artefact (ARTIFACTS)."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, async_playwright

from pelastus_hub import Publisher
from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import HubSettings
from tests.integration.hub_process import REPO

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the networking flags, Chromium keeps trying to reach Google's services, which a
# closed network refuses; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("PELASTUS_HUB_TEST_ARTIFACTS") or REPO / ".run" / "test-artifacts")
CODES = Registry.load(REPO / "schemas").codes
WAIT_MS = 20_000  # a snapshot every 0.5 s and a poll every second: seconds, at most
FIGURES = {  # the tile's data attribute -> the snapshot's field
    "units": "units",
    "available": "available",
    "committed": "committed",
    "outOfService": "out_of_service",
    "openIncidents": None,
    "stale": "stale",
}


def simulate(bootstrap: str, count: int) -> None:
    """The demo's traffic: every family, bad messages and duplicates among them."""
    command = ["simulate", "--count", str(count), "--rate", "2000", "--seed", "12"]
    subprocess.run(
        [sys.executable, "-m", "pelastus_hub.cli", *command],
        env={**os.environ, "PELASTUS_HUB_BOOTSTRAP_SERVERS": bootstrap},
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )


def unit(department: str, unit_id: str, status: str) -> dict:
    return {
        "department": department,
        "unit_id": unit_id,
        "unit_type": "rescue_unit",
        "status": status,
        "station_id": "LA-1",
        "crew": 4,
        "capabilities": [],
        "observed_at": datetime.now(UTC).isoformat(),
    }


async def tiles(page: Page) -> dict[str, dict[str, str]]:
    return await page.eval_on_selector_all(
        "g.tile",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.department, {...n.dataset}]))",
    )


def tile_figures(view: dict) -> dict[str, str]:
    """What the page should show of a department's view, as its tile's data attributes."""
    return {
        attribute: (
            str(view["incidents"]["open"])
            if field is None
            else str(view[field]).lower()  # JavaScript writes booleans lowercase
        )
        for attribute, field in FIGURES.items()
    }


async def shown_sequence(page: Page) -> int:
    return int(await page.get_attribute("#snapshot", "data-sequence"))


async def test_the_page_draws_the_api_s_picture_and_follows_it(broker, worker):
    simulate(broker, 1500)
    worker.wait_consumed(1500)
    _, snapshot = worker.get_json("/api/v1/capability")
    consumed_in = snapshot["sequence"]
    snapshot = worker.wait_snapshot_after(consumed_in)
    assert sum(view["units"] for view in snapshot["departments"].values()) > 0

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{worker.url}/?lang=en#lappi")
        await page.wait_for_function(
            "n => Number(document.querySelector('#snapshot')?.dataset.sequence) > n",
            arg=consumed_in,
            timeout=WAIT_MS,
        )

        # Every department of the registry is drawn, with the API's figures.
        drawn = await tiles(page)
        assert set(drawn) == CODES and len(drawn) == 21
        _, api = worker.get_json("/api/v1/capability")
        for code in CODES:
            shown = {key: drawn[code][key] for key in FIGURES}
            assert shown == tile_figures(api["departments"][code]), code
        # The side panel: the department picked (lappi, from the address), as the API says.
        status, lappi = worker.get_json("/api/v1/capability/lappi")
        assert status == 200
        panel = await page.eval_on_selector_all(
            "#panel dd[data-field]",
            "nodes => Object.fromEntries(nodes.map(n => [n.dataset.field, n.textContent]))",
        )
        assert await page.get_attribute("#panel", "data-department") == "lappi"
        for field in ("units", "available", "committed", "out_of_service", "crew_available"):
            assert panel[field] == str(lappi[field]), field
        assert panel["stations"] == str(lappi["readiness"]["stations"])
        urgency = lappi["incidents"]["by_urgency"]
        assert panel["by_urgency"] == " · ".join(f"{k} {urgency[k]}" for k in "ABCD")
        national = await page.get_attribute("#national", "data-units")
        assert national == str(api["national"]["units"])

        # A unit status sent now changes the page within a snapshot and a poll.
        before = drawn["lappi"]
        async with Publisher(
            "lappi", source="/pelastuslaitos/lappi/test", settings=settings(broker)
        ) as hub:
            await hub.publish("unit-status", unit("lappi", "RLA9001", "dispatched"))
        await page.wait_for_function(
            "([units, committed]) => { const t = document.querySelector('g.tile[data-department=lappi]');"
            " return Number(t.dataset.units) === units && Number(t.dataset.committed) === committed; }",
            arg=[int(before["units"]) + 1, int(before["committed"]) + 1],
            timeout=WAIT_MS,
        )
        await page.wait_for_function(
            "units => document.querySelector('#panel dd[data-field=units]').textContent === String(units)",
            arg=int(before["units"]) + 1,
            timeout=WAIT_MS,
        )

        # Exercise traffic: not shown until asked for, then apart and marked as exercise.
        async with Publisher(
            "pirkanmaa", source="/pelastuslaitos/pirkanmaa/test", settings=settings(broker)
        ) as hub:
            await hub.publish(
                "unit-status", unit("pirkanmaa", "RPI9001", "on_scene"), mode="exercise"
            )
        assert await page.is_hidden("#exercise")
        await page.check("#show-exercise")
        await page.wait_for_selector("#exercise tr[data-department=pirkanmaa]", timeout=WAIT_MS)
        heading = await page.text_content("#exercise h2")
        assert "Exercise" in heading and "not real" in heading
        _, api = worker.get_json("/api/v1/capability")
        exercised = api["exercise"]["departments"]["pirkanmaa"]
        row = await page.eval_on_selector_all(
            "#exercise tr[data-department=pirkanmaa] td", "cells => cells.map(c => c.textContent)"
        )
        assert row[1:4] == [str(exercised[k]) for k in ("units", "available", "committed")]
        # ...and the real picture does not count it.
        assert (
            str(api["departments"]["pirkanmaa"]["units"])
            == (await tiles(page))["pirkanmaa"]["units"]
        )

        # Finnish and Swedish labels.
        await page.click("button[data-lang=sv]")
        assert await page.text_content("h1") == "Räddningsväsendets nationella lägesbild"
        assert await page.text_content("g.tile[data-department=lappi] text.name") == "Lappland"
        await page.click("button[data-lang=fi]")
        assert await page.text_content("h1") == "Pelastustoimen kansallinen tilannekuva"
        await page.click("button[data-lang=en]")

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "national-picture.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
        assert errors == []
        await browser.close()


def settings(bootstrap: str) -> HubSettings:
    return HubSettings(bootstrap_servers=bootstrap)


async def test_the_page_says_when_the_hub_is_not_ready_or_its_data_old(worker):
    """Answers the page cannot get from a healthy hub on demand, given in the browser."""
    _, snapshot = worker.get_json("/api/v1/capability")
    old = dict(snapshot, generated_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        answer = {"status": 503, "body": {"error": "no_snapshot_yet", "message": "retry soon"}}

        async def capability(route: Route) -> None:
            await route.fulfill(
                status=answer["status"],
                content_type="application/json",
                body=json.dumps(answer["body"]),
            )

        await page.route("**/api/v1/capability", capability)
        await page.goto(f"{worker.url}/?lang=en")
        await page.wait_for_selector("#banner[data-problem=not_ready]", timeout=WAIT_MS)
        assert "not ready" in await page.text_content("#banner")

        answer.update(status=200, body=old)
        await page.wait_for_selector("#banner[data-problem=old_data]", timeout=WAIT_MS)
        assert "old" in await page.text_content("#banner")
        assert await page.locator("g.tile").count() == 21

        answer.update(status=401, body={"error": "unauthorized", "message": "token"})
        await page.wait_for_selector("#banner[data-problem=unauthorized]", timeout=WAIT_MS)
        assert await page.is_visible("#token-form")
        await browser.close()
