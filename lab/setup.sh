# setup: install the host packages the build and the lab need (sourced by run-xen.sh).
# shellcheck shell=bash

lab_setup() {
  local missing=()
  local p
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    need_root setup
    log "installing: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/vsnoop-setup.log 2>&1; then
      apt-get update >>/tmp/vsnoop-setup.log 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        >>/tmp/vsnoop-setup.log 2>&1 || { tail -20 /tmp/vsnoop-setup.log; die "apt-get install failed"; }
    fi
  fi
  # Debian's Rust must be the one cargo runs (rust-toolchain.toml points rustup at /usr).
  # Stale apt lists install bookworm's older rustc-web (1.85); 1.96 comes from
  # bookworm-security, so refresh the lists and upgrade once before giving up.
  if ! rust_is_recent; then
    need_root setup
    log "rustc $(/usr/bin/rustc --version 2>/dev/null | cut -d' ' -f2) is too old: apt-get update + upgrade of Debian's Rust"
    apt-get update >>/tmp/vsnoop-setup.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${RUST_PACKAGES[@]}" >>/tmp/vsnoop-setup.log 2>&1 \
      || { tail -20 /tmp/vsnoop-setup.log; die "apt-get install of Debian's Rust failed"; }
  fi
  rust_is_recent || die "Debian's rustc 1.96 not found at /usr/bin/rustc (package rustc-web; apt-cache policy rustc-web)"
}

rust_is_recent() {
  /usr/bin/rustc --version 2>/dev/null | grep -Eq '^rustc 1\.(9[6-9]|[1-9][0-9]{2,})\.'
}
