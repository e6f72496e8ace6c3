#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and fails if the page did not
# render cleanly: the report's last script sets data-rendered="ok" on
# <body>, and its window.onerror sets data-page-error. A page error, or a
# script that never ran, shows in the DOM Chromium dumps.
#
# Usage: scripts/check-html.sh FILE.html
# Exit: 0 rendered; 1 page error, not rendered, or Chromium failed;
#       2 usage or missing file; 3 no Chromium installed
#       (Debian: apt-get install chromium).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 FILE.html" >&2
  exit 2
fi
file=$1
if [ ! -f "$file" ]; then
  echo "check-html: no such file: $file" >&2
  exit 2
fi

browser=""
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then
    browser=$candidate
    break
  fi
done
if [ -z "$browser" ]; then
  echo "check-html: no Chromium installed (apt-get install chromium)" >&2
  exit 3
fi

url="file://$(realpath "$file")"
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
# timeout: a hung browser must fail the check, not the whole CI run.
if ! dom=$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu \
      --no-first-run --disable-extensions --dump-dom "$url" 2>"$err"); then
  echo "check-html: $browser failed on $file:" >&2
  tail -n 20 "$err" >&2
  exit 1
fi

body=$(printf '%s' "$dom" | grep -o '<body[^>]*>' | head -n 1)
if printf '%s' "$body" | grep -q 'data-page-error'; then
  message=$(printf '%s' "$body" | sed -n 's/.*data-page-error="\([^"]*\)".*/\1/p')
  echo "check-html: page error in $file: $message" >&2
  exit 1
fi
if ! printf '%s' "$body" | grep -q 'data-rendered="ok"'; then
  echo "check-html: $file did not finish rendering (no data-rendered=\"ok\" on <body>)" >&2
  exit 1
fi
echo "check-html: $file rendered in $browser without page errors"
