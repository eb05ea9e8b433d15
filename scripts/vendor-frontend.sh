#!/usr/bin/env bash
# Copies the front-end files Webcare uses from the npm registry into the repository, so a
# machine with only Python runs and tests Webcare without npm. Run it (`make vendor`) to
# upgrade: change a version below, run, check the pages (make test), commit the result.
#
#   NL Design System: Utrecht's component CSS and design tokens (EUPL-1.2 / CC0-1.0), under
#   static/vendor/utrecht/. A municipality swaps in its own tokens with
#   WEBCARE_THEME_STYLESHEET and WEBCARE_THEME_CLASS (README, "Your own look").
#   axe-core (MPL-2.0), under tests/vendor/: the accessibility checker the browser tests
#   inject into every page. It is never served to users.
#
# htmx itself comes with the django-htmx wheel (pyproject.toml).
set -euo pipefail

UTRECHT_COMPONENTS=@utrecht/component-library-css@9.0.4
UTRECHT_TOKENS=@utrecht/design-tokens@5.0.1
AXE=axe-core@4.14.1

here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v npm >/dev/null || { echo "npm is needed to refresh the vendored files (apt-get install npm)" >&2; exit 1; }

unpack() {  # unpack PACKAGE@VERSION into $work/<name>
    local spec="$1" name="$2"
    (cd "$work" && npm pack --silent "$spec" >"$name.tgz.name")
    mkdir -p "$work/$name"
    tar xzf "$work/$(cat "$work/$name.tgz.name")" -C "$work/$name" --strip-components=1
}

unpack "$UTRECHT_COMPONENTS" components
unpack "$UTRECHT_TOKENS" tokens
unpack "$AXE" axe

target="$here/static/vendor/utrecht"
rm -rf "$target"
mkdir -p "$target"
cp "$work/components/dist/index.css" "$target/components.css"
cp "$work/components/dist/html.css" "$target/html.css"
cp "$work/components/LICENSE.md" "$target/LICENSE-components.md"
cp "$work/tokens/dist/theme.css" "$target/theme.css"
cp "$work/tokens/LICENSE.md" "$target/LICENSE-tokens.md"

mkdir -p "$here/tests/vendor"
cp "$work/axe/axe.min.js" "$here/tests/vendor/axe.min.js"
cp "$work/axe/LICENSE" "$here/tests/vendor/LICENSE-axe-core"

{
    echo "# Vendored by scripts/vendor-frontend.sh on $(date -u +%Y-%m-%d); do not edit by hand."
    echo "$UTRECHT_COMPONENTS"
    echo "$UTRECHT_TOKENS"
    echo "$AXE"
} >"$here/static/vendor/VERSIONS"
echo "Vendored: $UTRECHT_COMPONENTS $UTRECHT_TOKENS $AXE"
