#!/usr/bin/env bash
# Re-vendor the front-end packages pinned in package.json (and package-lock.json) from the
# npm registry: `npm ci` into a scratch directory, then copy only the files plaudit serves,
# with their licences, and record each file's SHA-256 in VENDORED.md. Run it after changing
# a version in package.json (`npm install --package-lock-only` first), then run the tests.
# Nothing here runs at install or test time: the copied files are committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
static="$root/src/plaudit/entrypoints/web/static/vendor"
axe="$root/tests/browser/vendor"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$scratch/"
(cd "$scratch" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
nm="$scratch/node_modules"

rm -rf "$static/chart.js" "$static/swagger-ui" "$axe"
mkdir -p "$static/chart.js" "$static/swagger-ui" "$axe"
cp "$nm/chart.js/dist/chart.umd.min.js" "$nm/chart.js/LICENSE.md" "$static/chart.js/"
cp "$nm/swagger-ui-dist/"{swagger-ui-bundle.js,swagger-ui-bundle.js.LICENSE.txt,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} \
   "$static/swagger-ui/"
# axe-core checks the pages' accessibility in the browser tests only; it is not served.
cp "$nm/axe-core/axe.min.js" "$nm/axe-core/LICENSE" "$axe/"

version() { node -p "require('$nm/$1/package.json').version"; }
{
  echo "# Vendored front-end files"
  echo
  echo "Copied from the npm registry by \`tools/vendor/update.sh\` (versions pinned in"
  echo "\`tools/vendor/package.json\` and its lock file). Served by plaudit from \`/static/vendor/\`;"
  echo "nothing is loaded from a CDN. Each package's licence is beside its files."
  echo
  echo "| package | version | licence | file | sha256 |"
  echo "|---|---|---|---|---|"
  for f in "$static"/chart.js/* "$static"/swagger-ui/* "$axe"/*; do
    case "$f" in
      */chart.js/*) pkg=chart.js; lic=MIT ;;
      */swagger-ui/*) pkg=swagger-ui-dist; lic=Apache-2.0 ;;
      *) pkg=axe-core; lic=MPL-2.0 ;;
    esac
    rel="${f#"$root"/}"
    echo "| $pkg | $(version "$pkg") | $lic | \`$rel\` | \`$(sha256sum "$f" | cut -c1-16)…\` |"
  done
} > "$here/VENDORED.md"
echo "vendored into $static and $axe; see tools/vendor/VENDORED.md"
