#!/usr/bin/env bash
# Run the whole test suite: installs uv, the Python packages, Chromium and the CJK fonts.
# The suite runs on SQLite, and on PostgreSQL too when PORTAL_TEST_DATABASE_URL is set.
source "$(dirname "$0")/_uv.sh"

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need_apt+=(fonts-noto-cjk)
command -v msgfmt >/dev/null 2>&1 || need_apt+=(gettext)
# The load benchmark's smoke test drives wrk.
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need_apt[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

uv sync --quiet
uv run portal i18n check
uv run pytest "$@"
