"""The container's health check: GET /healthz on the worker's own port, with the health token
where one is set (PELASTUS_HUB_HEALTH_TOKEN or its _FILE). Exit 0 when it answers 200."""

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path


def main() -> int:
    port = os.environ.get("PELASTUS_HUB_WEB_PORT") or "6066"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz")
    token = os.environ.get("PELASTUS_HUB_HEALTH_TOKEN")
    if path := os.environ.get("PELASTUS_HUB_HEALTH_TOKEN_FILE"):
        token = Path(path).read_text().removesuffix("\n")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (OSError, urllib.error.URLError) as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
