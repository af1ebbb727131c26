# Shared settings and helpers for run-xen.sh and the lab scripts (sourced, not run).
# shellcheck shell=bash

LAB_DIR="$ROOT/lab"
# Everything the lab downloads or builds lives here, keyed by versions (see image.sh).
CACHE_ROOT="${VSNOOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsnoop-lab}"
SUITE="${VSNOOP_SUITE:-bookworm}"
XEN_PKG="xen-hypervisor-4.17-amd64"
KERNEL_ELF="$ROOT/target/x86_64-xen/release/vsnoop"

# Apt packages the host needs (setup installs what is missing).
# Debian's Rust (1.96 comes from bookworm-security; setup upgrades stale installs).
RUST_PACKAGES=(rustc-web cargo-web rust-web-src rustfmt-web rust-web-clippy)
HOST_PACKAGES=(
  "${RUST_PACKAGES[@]}" binutils gcc libc6-dev
  libxen-dev qemu-system-x86 debootstrap busybox-static cpio kmod gzip xz-utils
  coreutils util-linux gnuplot-nox fonts-dejavu-core
)

log() { printf '[vsnoop-lab] %s\n' "$*" >&2; }
die() { printf '[vsnoop-lab] error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "'$1' needs root (apt-get, debootstrap, chroot). Run it with sudo."
}

# The Debian mirror this machine's apt uses (deb822 or one-line sources), so the lab
# builds from the same place apt does.
debian_mirror() {
  local m=""
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || die "cannot find a Debian mirror in /etc/apt/sources.list*"
  echo "$m"
}

# Candidate version of an apt package.
apt_candidate() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

# The Debian 6.1 kernel package the linux-image-amd64 metapackage points at.
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6/ {print $2; exit}'
}
