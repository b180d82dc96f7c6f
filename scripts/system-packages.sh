#!/usr/bin/env bash
# Installs the Debian packages the test suite uses that pip cannot provide, when they are missing:
#   chromium      headless browser for the page tests (Playwright drives /usr/bin/chromium)
#   espeak-ng     the TTS program fallback (test_tts) and test fixtures
#   poppler-utils pdftoppm renders report PDFs in the tests
#   sox           tests/fixtures/make_fixtures.sh resamples and trims the espeak-ng fixtures with it
#   pulseaudio, pulseaudio-utils  a real sound server with a null sink for `interview-room listen` (parec/paplay)
# As root it uses apt-get, otherwise sudo when it works without a password; else it stops with one line naming
# the packages to install, before any test runs.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v sox >/dev/null 2>&1 && command -v soxi >/dev/null 2>&1 || need+=(sox)
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
command -v parec >/dev/null 2>&1 && command -v paplay >/dev/null 2>&1 && command -v pactl >/dev/null 2>&1 || need+=(pulseaudio-utils)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "make test needs these Debian packages: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs these packages (no apt-get here): ${need[*]}" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
