#!/usr/bin/env bash
# Installs and configures the tun VM: Node.js 22, Caddy, the project in
# /opt/tun, the `smtpsink` user, the systemd units, Caddy's base config and the
# sshd settings the tunnel needs. cloud-init runs it at first boot; run it again
# (as root) after `git pull` in /opt/tun or after changing /etc/tun/install.env.
#
# Idempotent: every step checks before it changes anything, files are written
# only when their content or mode differs, and services are restarted only when
# something they read has changed. A run that finds nothing to do ends with
# "[install] nothing to change".
#
# Settings come from the environment, else from /etc/tun/install.env
# (KEY=VALUE lines, read as data, never executed):
#   TUN_DOMAIN        tunnel base domain, e.g. tun.example.com (sink --domain)
#   TUN_USERS         users allowed to run tunnels (comma or space separated)
#   ACME_EMAIL        contact address for Let's Encrypt (optional)
#   TUN_TLS           acme (default: Let's Encrypt), internal (Caddy's own CA,
#                     for labs, CI or while DNS is not ready) or off (plain HTTP
#                     on :80 only); developers set the same with `tun init --tls`
#   AZURE_CLIENT_ID   client id of the VM's user-assigned managed identity
#   AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_NSG
#                     the NSG `tun janitor` sweeps expired port-25 leases from
#
# ROOT (for tests only): prefix for every file path the script reads or writes
# on the target system, so a run can be exercised in a scratch directory with
# stand-ins for apt-get, systemctl and friends on PATH.
set -euo pipefail

ROOT="${ROOT:-}"
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/tun
# Content hash of the sources last built into PREFIX (kept outside the checkout).
BUILD_STAMP=/var/lib/tun/install-stamp
SETTINGS=/etc/tun/install.env
NODE_MAJOR=22
CADDY_AUTOSAVE=/var/lib/caddy/.config/caddy/autosave.json
NODESOURCE_KEY_URL=https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key
NODESOURCE_KEYRING=/etc/apt/keyrings/nodesource.gpg
CADDY_KEY_URL=https://dl.cloudsmith.io/public/caddy/stable/gpg.key
CADDY_KEYRING=/usr/share/keyrings/caddy-stable-archive-keyring.gpg

CHANGES=0
APT_UPDATED=0
# At first boot unattended-upgrades often holds the dpkg lock for minutes: wait
# for it instead of failing. Never stop for questions (needrestart: list only).
APT_WAIT_SECONDS=600
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l
apt_get() { apt-get -o "DPkg::Lock::Timeout=$APT_WAIT_SECONDS" "$@"; }

log() { echo "[install] $*"; }
die() {
  echo "[install] error: $*" >&2
  exit 1
}
changed() {
  CHANGES=$((CHANGES + 1))
  log "changed: $*"
}

# Reads KEY=VALUE lines without executing them; the environment wins.
load_settings() {
  local file="$ROOT$SETTINGS" key value
  [[ -r $file ]] || return 0
  while IFS='=' read -r key value || [[ -n $key ]]; do
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
    value="${value%\"}"
    value="${value#\"}"
    if [[ -z ${!key+set} ]]; then
      printf -v "$key" '%s' "$value"
    fi
  done <"$file"
}

# write_file MODE PATH < content: installs the content at ROOT+PATH when it or
# the mode differs. Returns 0 when it wrote, 1 when the file was already right.
write_file() {
  local mode=$1 path="$ROOT$2" tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path" && [[ $(stat -c '%a' "$path") == "${mode#0}" ]]; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  changed "wrote $2"
  return 0
}

# Like write_file, but never replaces a file that exists (it is the admin's now).
create_file() {
  local mode=$1 path="$ROOT$2"
  if [[ -e $path ]]; then
    cat >/dev/null
    return 1
  fi
  write_file "$mode" "$2"
}

pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

apt_update_once() {
  if ((APT_UPDATED == 0)); then
    apt_get update -qq
    APT_UPDATED=1
  fi
}

apt_install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]} > 0)) || return 0
  apt_update_once
  apt_get install -y -qq --no-install-recommends "${missing[@]}"
  changed "installed ${missing[*]}"
}

# ensure_keyring URL PATH: a dearmored apt signing key, fetched once.
ensure_keyring() {
  local url=$1 path="$ROOT$2" tmp
  [[ -s $path ]] && return 0
  tmp="$(mktemp)"
  curl -fsSL "$url" | gpg --dearmor >"$tmp"
  mkdir -p "$(dirname "$path")"
  install -m 0644 "$tmp" "$path"
  rm -f "$tmp"
  changed "added apt key $2"
  APT_UPDATED=0
}

node_major() {
  local version
  version="$(node --version 2>/dev/null || true)"
  if [[ $version =~ ^v([0-9]+)\. ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo 0
  fi
}

install_packages() {
  # sqlite3: to inspect the sink database by hand (sudo -u smtpsink sqlite3 …).
  apt_install_missing ca-certificates curl gnupg git make g++ python3 sqlite3
  # Ubuntu 24.04 ships Node 18; NodeSource's repo carries the 22 LTS line.
  if (($(node_major) < NODE_MAJOR)); then
    ensure_keyring "$NODESOURCE_KEY_URL" "$NODESOURCE_KEYRING"
    if write_file 0644 /etc/apt/sources.list.d/nodesource.list <<EOF; then APT_UPDATED=0; fi
deb [signed-by=$NODESOURCE_KEYRING] https://deb.nodesource.com/node_$NODE_MAJOR.x nodistro main
EOF
    apt_update_once
    # `install` also upgrades an older nodejs already present.
    apt_get install -y -qq nodejs
    changed "installed nodejs $NODE_MAJOR"
    (($(node_major) >= NODE_MAJOR)) || die "node $(node --version 2>&1) is older than $NODE_MAJOR after installing nodejs"
  fi
  ensure_keyring "$CADDY_KEY_URL" "$CADDY_KEYRING"
  if write_file 0644 /etc/apt/sources.list.d/caddy-stable.list <<EOF; then APT_UPDATED=0; fi
deb [signed-by=$CADDY_KEYRING] https://dl.cloudsmith.io/public/caddy/stable/deb/debian any-version main
EOF
  apt_install_missing caddy
}

ensure_group() {
  getent group "$1" >/dev/null && return 0
  groupadd --system "$1"
  changed "created group $1"
}

ensure_users() {
  ensure_group tun
  if ! getent passwd smtpsink >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /var/lib/smtpsink \
      --shell /usr/sbin/nologin --comment "tun SMTP sink" smtpsink
    changed "created user smtpsink"
  fi
  # Tunnel users: forwarding is allowed for group tun (sshd), and `tun logs`
  # reads the sink's journal, which needs systemd-journal.
  local user group
  for user in ${TUN_USERS//,/ }; do
    if ! getent passwd "$user" >/dev/null; then
      log "warning: tunnel user $user does not exist; create it, then run this again"
      continue
    fi
    for group in tun systemd-journal; do
      if ! id -nG "$user" | tr ' ' '\n' | grep -qx "$group"; then
        usermod -a -G "$group" "$user"
        changed "added $user to group $group"
      fi
    done
  done
}

# Content hash of the project sources (what a build depends on).
source_hash() {
  (
    cd "$1"
    find . \( -name node_modules -o -name dist -o -path ./.git \) -prune \
      -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
  )
}

CODE_CHANGED=0
install_project() {
  local dest="$ROOT$PREFIX" hash stamp
  [[ -n $PREFIX && $PREFIX == /opt/* ]] || die "refusing to install into $PREFIX"
  hash="$(source_hash "$SRC_DIR")"
  stamp="$ROOT$BUILD_STAMP"
  if [[ -f $stamp && $(<"$stamp") == "$hash" && -f $dest/cli/dist/cli/main.js ]]; then
    return 0
  fi
  if [[ $SRC_DIR != "$dest" ]]; then
    # Run from another checkout: replace the installed tree with this one.
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$SRC_DIR" --exclude=node_modules --exclude=dist --exclude=./.git -cf - . | tar -C "$dest" -xf -
  fi
  log "building $PREFIX (npm ci, npm run build)"
  (
    cd "$dest"
    npm ci --no-audit --no-fund
    npm run build
    # The daemons need only runtime dependencies; the next build reinstalls the rest.
    npm prune --omit=dev --no-audit --no-fund
  )
  # Hashed again after the build: in place (SRC_DIR is PREFIX) a build that
  # touched a source file must not make the next run rebuild.
  hash="$(source_hash "$SRC_DIR")"
  mkdir -p "$(dirname "$stamp")"
  echo "$hash" >"$stamp"
  CODE_CHANGED=1
  changed "built $PREFIX"
}

ensure_symlink() {
  local target=$1 link="$ROOT$2"
  [[ -L $link && $(readlink "$link") == "$target" ]] && return 0
  mkdir -p "$(dirname "$link")"
  ln -sfn "$target" "$link"
  changed "linked $2 -> $target"
}

UNITS_CHANGED=0
SINK_CHANGED=0
CADDY_CHANGED=0
SSHD_CHANGED=0
# Caddy's base config for TUN_TLS: infra/caddy.json (ACME), caddy-internal.json
# (internal CA, not added to the VM's trust store) or caddy-http.json (plain HTTP).
caddy_config() {
  case "${TUN_TLS:-acme}" in
    acme) sed "s/\"email\": \"\"/\"email\": \"${ACME_EMAIL:-}\"/" "$SRC_DIR/infra/caddy.json" ;;
    internal) cat "$SRC_DIR/infra/caddy-internal.json" ;;
    off) cat "$SRC_DIR/infra/caddy-http.json" ;;
  esac
}

install_config() {
  local unit
  for unit in smtpsink.service tun-janitor.service tun-janitor.timer; do
    if write_file 0644 "/etc/systemd/system/$unit" <"$SRC_DIR/systemd/$unit"; then
      UNITS_CHANGED=1
      [[ $unit == smtpsink.service ]] && SINK_CHANGED=1
    fi
  done
  if write_file 0644 /etc/systemd/system/caddy.service.d/tun.conf <"$SRC_DIR/infra/caddy-override.conf"; then
    UNITS_CHANGED=1
    CADDY_CHANGED=1
  fi

  [[ -z ${ACME_EMAIL:-} || $ACME_EMAIL =~ ^[^\"\\[:space:]]+@[^\"\\[:space:]]+$ ]] ||
    die "ACME_EMAIL \"$ACME_EMAIL\" is not an email address"
  if write_file 0644 /etc/caddy/tun.json < <(caddy_config); then
    CADDY_CHANGED=1
  fi

  if write_file 0644 /etc/ssh/sshd_config.d/60-tun.conf <"$SRC_DIR/infra/sshd-tun.conf"; then
    SSHD_CHANGED=1
  fi

  # The sink's local settings: created once, then the admin's to edit.
  if create_file 0600 /etc/smtpsink/sink.env <<EOF; then SINK_CHANGED=1; fi
# Settings for smtpsink.service as TUN_SINK_<FLAG>=value (see \`tun sink --help\`).
# Flags on the unit's ExecStart (listeners, database) take precedence.
TUN_SINK_DOMAIN=${TUN_DOMAIN:-}
# TUN_SINK_TLS_CERT=/etc/smtpsink/tls.crt
# TUN_SINK_TLS_KEY=/etc/smtpsink/tls.key
EOF

  # The janitor's Azure settings follow install.env (managed, not hand-edited).
  write_file 0600 /etc/tun/janitor.env <<EOF || true
# Written by infra/install.sh from $SETTINGS; edit that file and run install.sh again.
AZURE_CLIENT_ID=${AZURE_CLIENT_ID:-}
TUN_AZURE_SUBSCRIPTION_ID=${AZURE_SUBSCRIPTION_ID:-}
TUN_AZURE_RESOURCE_GROUP=${AZURE_RESOURCE_GROUP:-}
TUN_AZURE_NSG=${AZURE_NSG:-}
EOF
}

ensure_enabled() {
  systemctl is-enabled --quiet "$1" && return 0
  systemctl enable --quiet "$1"
  changed "enabled $1"
}

ensure_running() {
  systemctl is-active --quiet "$1" && return 0
  systemctl start "$1"
  changed "started $1"
}

restart_if_running() {
  systemctl is-active --quiet "$1" || return 0
  systemctl restart "$1"
  changed "restarted $1"
}

apply() {
  if ((UNITS_CHANGED)); then
    systemctl daemon-reload
  fi
  if ((SSHD_CHANGED)); then
    # With Ubuntu 24.04's socket activation sshd may not have run yet, and
    # `sshd -t` refuses to check without its privilege separation directory.
    mkdir -p "$ROOT/run/sshd"
    sshd -t || die "sshd rejects its configuration; see /etc/ssh/sshd_config.d/60-tun.conf"
    # Ubuntu 24.04 names the unit ssh.service (socket-activated by default).
    if systemctl is-active --quiet ssh.service; then
      systemctl reload ssh.service
      changed "reloaded ssh.service"
    fi
  fi
  if ((CADDY_CHANGED)); then
    # Caddy would otherwise resume from its autosave and ignore the new base config.
    rm -f "$ROOT$CADDY_AUTOSAVE"
    restart_if_running caddy.service
  fi
  ensure_enabled caddy.service
  ensure_running caddy.service

  if ((CODE_CHANGED || SINK_CHANGED)); then
    restart_if_running smtpsink.service
  fi
  ensure_enabled smtpsink.service
  ensure_running smtpsink.service

  ensure_enabled tun-janitor.timer
  ensure_running tun-janitor.timer
}

main() {
  if [[ -z $ROOT && $(id -u) -ne 0 ]]; then
    die "run as root: sudo $0"
  fi
  load_settings
  TUN_USERS="${TUN_USERS:-}"
  [[ ${TUN_TLS:-acme} =~ ^(acme|internal|off)$ ]] ||
    die "TUN_TLS \"$TUN_TLS\" must be acme, internal or off"
  install_packages
  ensure_users
  install_project
  ensure_symlink "$PREFIX/cli/dist/cli/main.js" /usr/local/bin/tun
  install_config
  apply
  if ((CHANGES == 0)); then
    log "nothing to change"
  else
    log "done: $CHANGES change(s)"
  fi
}

main "$@"
