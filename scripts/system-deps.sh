#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks drive for real:
# OpenSSH server (tunnel tests), Caddy (routes), swaks (SMTP client),
# the linter for infra/install.sh, strace (syscall-filter test),
# python3-yaml (cloud-init test), Debian's chromium (browser tests, driven by
# playwright-core; Playwright's own browser download does not work offline),
# dnsmasq (a real DNS server for tun doctor), Postfix's smtp-source/smtp-sink (bench).
# Idempotent: installs only what is missing, runs apt-get update at most once.
set -euo pipefail

want=(openssh-server caddy swaks shellcheck strace python3-yaml chromium dnsmasq-base)
if [[ "${1:-}" == "--bench" ]]; then
  want+=(postfix)
fi

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "system-deps: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of mail server to be; the bench only needs its tools.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps: installed ${missing[*]}"
