#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks talk to: real peers (nginx, HAProxy, PHP-FPM),
# curl as a client, ripgrep and wrk for the side-by-side benchmarks, GNU time and jq for
# bench/fleet.sh.
set -euo pipefail

packages=(nginx libnginx-mod-stream libnginx-mod-mail libnginx-mod-http-headers-more-filter php-fpm haproxy curl ripgrep wrk iproute2 prometheus postgresql time jq)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The tests start their own instances on loopback; the packaged services are not needed.
for svc in nginx haproxy php8.2-fpm prometheus postgresql; do
  service "$svc" stop >/dev/null 2>&1 || true
done
