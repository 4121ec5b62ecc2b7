#!/usr/bin/env bash
# The wheel works outside the repository: built from the checkout, installed with its
# dependencies in a fresh virtual environment, and run from a folder where the
# checkout is not on sys.path. A module or schema the checkout has and the wheel
# lacks fails here. PYTHON is the interpreter of that environment (python3).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Nothing of the caller's may point back into the checkout.
unset PYTHONPATH "${!PELASTUS_HUB_@}"

say() { echo "wheel-check: $*"; }
fail() {
    echo "wheel-check: FAILED: $*" >&2
    exit 1
}

# The files git tracks or would track, as they are now: a build/ left in the checkout
# would put stale modules into the wheel.
mkdir "$tmp/src" "$tmp/work"
(
    cd "$repo"
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' path; do
            if [[ -e $path ]]; then printf '%s\0' "$path"; fi
        done |
        tar --null -T - -cf -
) | tar -xf - -C "$tmp/src"
"$repo/.venv/bin/pip" wheel --quiet --disable-pip-version-check --no-deps \
    --wheel-dir "$tmp/dist" "$tmp/src"
wheel=("$tmp"/dist/pelastus_hub-*.whl)
say "built ${wheel[0]##*/}"

"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "${wheel[0]}"
say "installed it with its dependencies in a fresh virtual environment"
bin="$tmp/venv/bin"
cd "$tmp/work"

examples="$repo/schemas"
cp "$examples/envelope/examples/unit-status-structured.json" valid.json
# The same event with the contract's example of bad unit-status data.
"$bin/python" - "$examples/unit-status/examples/invalid-crew-string.json" >invalid.json <<'EOF'
import json, sys
event = json.load(open("valid.json"))
event["data"] = json.load(open(sys.argv[1]))
print(json.dumps(event))
EOF

output="$("$bin/pelastus-hub" validate valid.json)" || fail "validate valid.json: $output"
[[ $output == *"1 valid, 0 invalid"* ]] || fail "validate valid.json: $output"
say "ok: pelastus-hub validate accepts a valid example"

status=0
output="$("$bin/pelastus-hub" validate invalid.json)" || status=$?
# Exit 1 is the verdict "invalid"; a crash would also be non-zero.
[[ $status == 1 && $output == *"schema_invalid: /data/crew"* ]] ||
    fail "validate invalid.json (exit $status): $output"
say "ok: pelastus-hub validate rejects an invalid one"

"$bin/python" -c '
import json, sys
from pathlib import Path
import pelastus_hub

assert Path(pelastus_hub.__file__).is_relative_to(sys.prefix), pelastus_hub.__file__
data = json.loads(Path("valid.json").read_text())["data"]
publisher = pelastus_hub.Publisher("pirkanmaa", source="/pelastuslaitos/pirkanmaa/resource-system")
topic, key, _, _ = publisher.build("unit-status", data)
assert (topic, key) == ("dept.pirkanmaa.unit-status", b"RPI487"), (topic, key)
' || fail "Publisher.build"
say "ok: pelastus_hub.Publisher builds an event"

"$bin/python" -c 'import pelastus_hub.runtime.app' || fail "import pelastus_hub.runtime.app"
say "ok: the worker's modules import"

"$bin/python" -c '
from pelastus_hub.runtime.page import FILES, page_file
for name in FILES:
    assert page_file(name), name
' || fail "the national picture page's files"
say "ok: the national picture page's files are in the wheel"
