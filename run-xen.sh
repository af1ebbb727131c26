#!/usr/bin/env bash
# vsnoop's one entry point: build the driver domain, build and boot the Xen-in-QEMU lab,
# run the tests. `./run-xen.sh help` lists the commands.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
. lab/common.sh
. lab/setup.sh
. lab/image.sh
. lab/qemu.sh
. lab/test.sh
. lab/bench.sh

usage() {
  cat <<'USAGE'
usage: ./run-xen.sh COMMAND [ARGS]

  demo              the main job: boot the lab, start the vsnoop driver domain and guests,
                    measure vSnoop off vs on for 100 KB transfers to a CPU-contended guest
  bench             the full benchmark: vsnoop (vSnoop off/on) vs a Linux driver domain, 100 KB
                    and 1 MB transfers; table + target/bench/{samples,summary}.csv + cdf-100k.png
  bench-nic         the NIC benchmark: dom0 -> guest through the driver domain owning the
                    passed-through NIC, vsnoop vs a Linux driver domain in one boot: 1 MB and
                    10 MB transfers, ping RTT, memory and image size; table with vsnoop/Linux
                    ratios + target/bench-nic/{summary,samples,ping,footprint}.csv + nic.png
  test [SCENARIO..] host tests (cargo test) and lab scenarios; prints PASS/FAIL lines and
                    "N passed, N failed"; exits non-zero on any failure.
                    SCENARIO names: see lab/scenarios/ (default: all). "host" = cargo tests only.
  setup             install missing apt packages (root)
  build             build the driver domain's kernel ELF (target/x86_64-xen/release/vsnoop)
  image             fetch Xen + the Debian kernel, build dom0's root fs and the guest initramfs
  boot              interactive lab: Xen console on this terminal, a shell in dom0
                    (the vsnoop ELF is at /lab/vsnoop.elf, its xl config at /lab/config/)

environment: VSNOOP_CACHE (lab cache dir, default ~/.cache/vsnoop-lab),
             VSNOOP_TIMEOUT (seconds per lab boot, default 1200 + LAB_BYTES/50000),
             VSNOOP_LAB_BYTES (bytes each way in netback*/nic* scenarios, default 8000000),
             VSNOOP_BENCH_COUNT (transfers per size: bench 100, bench-nic 20)
USAGE
}

kernel_build() {
  log "building the kernel (cargo kbuild)"
  RUSTC_BOOTSTRAP=1 cargo kbuild --quiet
  log "kernel: $KERNEL_ELF ($(stat -c %s "$KERNEL_ELF") bytes)"
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) lab_setup ;;
  build) lab_setup; kernel_build ;;
  image) lab_setup; image_build ;;
  boot) lab_setup; kernel_build; image_build; lab_boot_interactive ;;
  demo) lab_setup; kernel_build; image_build; lab_demo ;;
  bench) lab_setup; kernel_build; image_build; lab_bench "$ROOT/target/bench" "vsnoop linux" 4 "${VSNOOP_BENCH_COUNT:-100}" 100000,1000000 ;;
  bench-nic) lab_setup; kernel_build; image_build; lab_bench_nic "$ROOT/target/bench-nic" "${VSNOOP_BENCH_COUNT:-20}" ;;
  test) lab_setup; lab_test "$@" ;;
  help|-h|--help) usage ;;
  *) usage; exit 2 ;;
esac
