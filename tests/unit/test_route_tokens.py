"""Bearer tokens of the HTTP route groups: the decision, and the guard before the handler."""

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from pelastus_hub.runtime import web
from pelastus_hub.runtime.web import authorized, route_group
from pelastus_hub.settings import HubSettings

TOKEN = SecretStr("s3cret-token")


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),  # no Authorization header
        ("", False),
        ("Bearer s3cret-token", True),
        ("bearer s3cret-token", True),  # the scheme is case-insensitive
        ("Bearer  s3cret-token ", True),
        ("Basic s3cret-token", False),  # another scheme
        ("s3cret-token", False),  # no scheme
        ("Bearer", False),
        ("Bearer ", False),
        ("Bearer s3cret-tokem", False),  # wrong token, same length
        ("Bearer s3cret", False),  # shorter
        ("Bearer s3cret-token-and-more", False),  # longer
        ("Bearer S3CRET-TOKEN", False),  # the token is case-sensitive
        ("Bearer s3cret-tökén", False),  # not ASCII
        ("Bearer s3cret-\udcff", False),  # a header's byte that is no UTF-8
    ],
)
def test_a_group_with_a_token_wants_exactly_that_bearer_token(
    header: str | None, allowed: bool
) -> None:
    assert authorized(header, TOKEN) is allowed


@pytest.mark.parametrize("header", [None, "", "Basic x", "Bearer anything"])
def test_a_group_without_a_token_is_open(header: str | None) -> None:
    assert authorized(header, None) is True


def test_an_empty_token_lets_no_request_in() -> None:
    assert authorized("Bearer ", SecretStr("")) is False
    assert authorized("Bearer x", SecretStr("")) is False


def test_every_route_is_in_a_group() -> None:
    assert route_group("/api/v1/capability") == "api"
    assert route_group("/api/v1/capability/{department}") == "api"
    assert route_group("/api/v1/kpi") == "api"
    assert route_group("/metrics") == "metrics"
    assert route_group("/healthz") == "health"
    assert route_group("/readyz") == "health"
    with pytest.raises(ValueError, match="no route group"):
        route_group("/debug")


class FakeApp:
    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}

    def page(self, path: str) -> Any:
        def register(handler: Any) -> Any:
            self.pages[path] = handler
            return handler

        return register


class FakeView:
    def json(self, value: Any, status: int = 200, headers: Any = None) -> Any:
        return SimpleNamespace(body=value, status=status, headers=headers or {})


def guarded_route(path: str, **tokens: str) -> tuple[Any, list[dict[str, Any]]]:
    """The route at `path` as registered, over a handler that notes each call."""
    settings = HubSettings(**tokens)  # type: ignore[arg-type]
    app, calls = FakeApp(), []

    async def handler(view: Any, request: Any, **match: Any) -> Any:
        calls.append(match)
        return view.json({"ok": True})

    web._pages(app, SimpleNamespace(settings=settings))(path)(handler)  # type: ignore[arg-type]
    return app.pages[path], calls


def request(authorization: str | None = None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return SimpleNamespace(headers=headers)


async def test_a_refused_request_gets_401_and_never_reaches_the_handler() -> None:
    route, calls = guarded_route("/api/v1/capability/{department}", api_token="a-token")
    for sent in (None, "Bearer wrong", "Basic a-token"):
        response = await route(FakeView(), request(sent), department="lappi")
        assert response.status == 401
        assert response.headers == {"WWW-Authenticate": 'Bearer realm="pelastus-hub"'}
        assert response.body["error"] == "unauthorized"
        assert "Authorization: Bearer" in response.body["message"]
        assert "a-token" not in response.body["message"]
        assert "wrong" not in response.body["message"]
    assert calls == []
    response = await route(FakeView(), request("Bearer a-token"), department="lappi")
    assert response.status == 200 and calls == [{"department": "lappi"}]


async def test_a_group_is_guarded_by_its_own_token_only() -> None:
    metrics, _ = guarded_route("/metrics", metrics_token="m", api_token="a")
    assert (await metrics(FakeView(), request("Bearer a"))).status == 401
    assert (await metrics(FakeView(), request("Bearer m"))).status == 200
    health, _ = guarded_route("/readyz", metrics_token="m", api_token="a")
    assert (await health(FakeView(), request())).status == 200  # no health token: open
