#!/usr/bin/env bash
# vendor-frontend.sh: fetch the NHS.UK frontend at the pinned version with npm
# and copy the compiled files the dashboard uses into web/static/vendor/
# (committed: the gateway serves them itself, nothing comes from a CDN).
# Run it again after changing NHSUK_FRONTEND_VERSION; commit the result.
set -euo pipefail
NHSUK_FRONTEND_VERSION=10.6.1
root=$(cd "$(dirname "$0")/.." && pwd)
dst=$root/web/static/vendor/nhsuk-frontend
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "nhsuk-frontend@$NHSUK_FRONTEND_VERSION" >/dev/null && tar xzf "nhsuk-frontend-$NHSUK_FRONTEND_VERSION.tgz")
src=$tmp/package/dist/nhsuk
rm -rf "$dst"
mkdir -p "$dst/assets/images"
cp "$src/nhsuk-frontend.min.css" "$dst/nhsuk-frontend.min.css"
cp "$src/nhsuk-frontend.min.js" "$dst/nhsuk-frontend.min.js"
for f in favicon.ico favicon.svg nhsuk-icon-192.png; do
	cp "$src/assets/images/$f" "$dst/assets/images/$f"
done
# The package declares "license": "MIT" in package.json but ships no LICENSE
# file; keep its package.json and the upstream MIT text beside the files:
# the LICENSE of github.com/nhsuk/nhsuk-frontend on its 10.x release line
# (tag v10.6.0, branch support/10.x; checked 2026-11-30). The main branch
# has since renamed the holder "NHS England" (#1864); take that text when
# the pinned version moves to a release that carries it.
cp "$tmp/package/package.json" "$dst/package.json"
cat > "$dst/LICENSE" <<'LIC'
MIT License

Copyright (c) 2019 NHS Digital

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LIC
echo "$NHSUK_FRONTEND_VERSION" > "$dst/VERSION"
echo "vendored nhsuk-frontend $NHSUK_FRONTEND_VERSION into ${dst#$root/}"
