#!/usr/bin/env bash
# Refreshes the vendored UI libraries from the npm registry: the files the UI imports, with
# their bare imports ("preact", "preact/hooks", "@preact/signals-core") rewritten to
# relative paths, so the browser needs no import map (the CSP would refuse an inline one)
# and Ward's build needs no Node. Versions are pinned here and listed in VERSIONS.
#
#   crates/ward-admin/ui/vendor/update.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PACKAGES=(preact@11.2.0 htm@3.1.1 @preact/signals-core@1.14.5 @preact/signals@2.11.4 uplot@1.6.32)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts "${PACKAGES[@]}" >/dev/null
M=node_modules
relative() {
  sed -e 's#from"preact"#from"./preact.js"#g' \
      -e 's#from"preact/hooks"#from"./hooks.js"#g' \
      -e 's#from"@preact/signals-core"#from"./signals-core.js"#g' "$1"
}
relative $M/preact/dist/preact.mjs >"$HERE/preact.js"
relative $M/preact/hooks/dist/hooks.mjs >"$HERE/hooks.js"
relative $M/@preact/signals-core/dist/signals-core.mjs >"$HERE/signals-core.js"
relative $M/@preact/signals/dist/signals.mjs >"$HERE/signals.js"
relative $M/htm/dist/htm.mjs >"$HERE/htm.js"
# uPlot ships its minified build as a script that sets `var uPlot`: as a module, that
# variable is the module's, and one export line makes it importable.
{ cat $M/uplot/dist/uPlot.iife.min.js; printf '\nexport default uPlot;\n'; } >"$HERE/uplot.js"
cp $M/uplot/dist/uPlot.min.css "$HERE/uplot.css"
# no source maps: the files end with a sourceMappingURL the browser would fetch in vain
sed -i '/^\/\/# sourceMappingURL=/d; s#//\# sourceMappingURL=[^ ]*$##' "$HERE"/*.js
{
  echo "# Vendored by update.sh from the npm registry; licences in LICENSES."
  for p in "${PACKAGES[@]}"; do echo "$p"; done
} >"$HERE/VERSIONS"
{
  for d in preact htm @preact/signals-core @preact/signals uplot; do
    echo "==== $d ===="
    cat "$M/$d/LICENSE"
    echo
  done
} >"$HERE/LICENSES"
# any bare import left would fail in the browser
if grep -lE 'from"[^./]' "$HERE"/*.js; then
  echo "a bare import is left in the files above" >&2
  exit 1
fi
ls -l "$HERE"
