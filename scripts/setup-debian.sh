#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks talk to: a C compiler and linker for the
# crates that build C (SQLite, ring), real peers (nginx, HAProxy, PHP-FPM; Apache's binary alone,
# no service, for `apache2 -t`), curl as a client,
# ripgrep and wrk for the side-by-side benchmarks, GNU time and jq for bench/fleet.sh,
# Prometheus and PostgreSQL for the fleet tests, Chromium for the HTML report. Works as root, or
# through sudo otherwise.
set -euo pipefail

packages=(build-essential pkg-config nginx libnginx-mod-stream libnginx-mod-mail
  libnginx-mod-http-headers-more-filter php-fpm apache2-bin haproxy curl ripgrep wrk iproute2 time jq
  prometheus postgresql chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-debian.sh: run as root or install sudo" >&2; exit 2; }
  sudo="sudo"
fi
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The tests start their own instances on loopback; the packaged services are not needed. PHP-FPM's
# service is named after its version (php8.2-fpm on Debian 12, php8.4-fpm on Debian 13).
fpm_services=()
for unit in /lib/systemd/system/php*-fpm.service /etc/init.d/php*-fpm; do
  [ -e "$unit" ] && fpm_services+=("$(basename "$unit" .service)")
done
for svc in nginx haproxy prometheus postgresql "${fpm_services[@]}"; do
  $sudo service "$svc" stop >/dev/null 2>&1 || true
done
if ! compgen -G "/usr/sbin/php-fpm*" >/dev/null; then
  echo "setup-debian.sh: no php-fpm binary under /usr/sbin after installing php-fpm" >&2
  exit 1
fi
