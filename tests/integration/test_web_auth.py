"""The HTTP route groups' bearer tokens on a real worker, each token read from a file."""

import json

import pytest

from tests.integration.hub_process import WorkerProcess

pytestmark = pytest.mark.integration

TOKENS = {"api": "api-token-1", "metrics": "metrics-token-22", "health": "health-token-333"}
ROUTES = {
    "api": ["/api/v1/accounting", "/api/v1/capability/lappi", "/api/v1/kpi?department=lappi"],
    "metrics": ["/metrics"],
    "health": ["/healthz", "/readyz"],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def guarded(broker, tmp_path_factory):
    """One worker whose every route group has a token of its own, given as a file."""
    folder = tmp_path_factory.mktemp("web-auth")
    files = {}
    for group, token in TOKENS.items():
        path = folder / f"{group}.token"
        path.write_text(token + "\n")
        files[f"{group}_token_file"] = str(path)
    process = WorkerProcess(broker, folder / "worker.log", **files)
    process.start()  # its readiness wait sends the health token
    yield process
    if process.process and process.process.poll() is None:
        process.stop()


@pytest.mark.parametrize("group", sorted(ROUTES))
def test_a_group_answers_its_own_token_only(guarded: WorkerProcess, group: str) -> None:
    for path in ROUTES[group]:
        for refused in ({}, *(bearer(t) for g, t in TOKENS.items() if g != group)):
            status, headers, body = guarded.request(path, refused)
            assert status == 401, (path, refused)
            assert headers["WWW-Authenticate"] == 'Bearer realm="pelastus-hub"'
            error = json.loads(body)
            assert error["error"] == "unauthorized"
            assert "Authorization: Bearer" in error["message"]
            assert not any(token in body.decode() for token in TOKENS.values())
        status, _, _ = guarded.request(path, {"Authorization": f"Basic {TOKENS[group]}"})
        assert status == 401
        status, _, body = guarded.request(path, bearer(TOKENS[group]))
        assert status != 401, (path, body)
    if group == "metrics":
        assert b"pelastus_hub_records_total" in body


def test_faust_shows_nothing_of_its_own_and_the_page_no_data(guarded: WorkerProcess) -> None:
    """Faust's views of partition assignments and tables are off: they would answer
    anyone, whatever the tokens. The national picture page answers anyone too, since it
    holds no data: it reads the API, with the API's token."""
    for path in ("/router/", "/table/", "/stats/", "/graph/"):
        assert guarded.request(path)[0] == 404, path
    status, headers, body = guarded.request("/")
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert b"/page/page.js" in body
    assert guarded.request("/page/page.js")[0] == 200
    assert guarded.request("/page/settings.py")[0] == 404  # only the page's own files
    assert guarded.request("/api/v1/departments")[0] == 401


def test_a_group_without_a_token_stays_open(guarded: WorkerProcess) -> None:
    """The worker restarted with the API's token only: metrics and health answer anyone."""
    assert guarded.stop() == 0
    for group in ("metrics", "health"):
        del guarded.env[f"PELASTUS_HUB_{group.upper()}_TOKEN_FILE"]
    guarded.start()
    assert guarded.get("/healthz")[0] == 200
    assert guarded.get("/readyz")[0] == 200
    status, body = guarded.get("/metrics")
    assert status == 200 and b"pelastus_hub_records_total" in body
    assert guarded.get("/api/v1/accounting")[0] == 401
    assert guarded.request("/api/v1/accounting", bearer(TOKENS["api"]))[0] == 200
