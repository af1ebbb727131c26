# qemu: boot Xen + dom0 under QEMU TCG (BRIEF §5). Sourced by run-xen.sh.
# shellcheck shell=bash

QEMU_MEM="${VSNOOP_QEMU_MEM:-3072}"
XEN_CMDLINE="dom0_mem=768M,max:768M dom0_max_vcpus=2 console=com1 loglvl=all guest_loglvl=all"
DOM0_CMDLINE="console=hvc0 loglevel=5"

# -cpu qemu64, not max: with max, a NIC passed through to a PV domain corrupts dom0's memory
# under traffic (BRIEF §6). NIC A (e1000, dom0's) and NIC B (virtio-net at 00:05.0, for the
# driver domain) share QEMU hub 1, i.e. one L2 segment.
# LAB_SMP and XEN_EXTRA let the benchmark boot three pCPUs with the credit scheduler.
# NIC B's virtio flavour: modern (1af4:1041, the default) or, with
# VSNOOP_NICB=transitional, transitional (1af4:1000: legacy I/O BAR plus the modern
# capabilities, without iommu_platform).
nicb_mode() {
  case "${VSNOOP_NICB:-modern}" in
    modern) echo "disable-legacy=on,iommu_platform=on" ;;
    # QEMU refuses iommu_platform on a transitional device; its DMA then bypasses the
    # vIOMMU, and machine addresses still land in the right place.
    transitional) echo "disable-legacy=off,disable-modern=off" ;;
    *) die "VSNOOP_NICB must be modern or transitional" ;;
  esac
}

qemu_args() { # initrd
  QEMU_ARGS=(qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64 -m "$QEMU_MEM" -smp "${LAB_SMP:-2}"
    -nographic -no-reboot -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on
    -kernel "$IMG/xen.elf" -append "$XEN_CMDLINE ${XEN_EXTRA:-}"
    -initrd "$IMG/vmlinuz $DOM0_CMDLINE,$1"
    -netdev hubport,id=nica,hubid=1 -device e1000,netdev=nica,mac=52:54:00:00:00:0a,addr=0x4
    -netdev hubport,id=nicb,hubid=1
    -device virtio-net-pci,netdev=nicb,mac=52:54:00:00:00:0b,addr=0x5,$(nicb_mode))
}

# dom0-side helper programs (lab/tools/*.c), built static on the host: dom0 has no compiler.
lab_tools() { # destdir
  local src out
  mkdir -p "$1" "$ROOT/target/lab/tools"
  for src in "$LAB_DIR"/tools/*.c; do
    out="$ROOT/target/lab/tools/$(basename "$src" .c)"
    if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
      gcc -static -O2 -Wall -o "$out" "$src" || die "building $src failed"
    fi
    cp "$out" "$1/"
  done
}

# Builds the per-boot archive (mode, scenario list, vsnoop ELF, configs, scripts) and
# concatenates it onto the cached dom0 archive. Prints the combined initrd's path.
lab_initrd() { # mode [scenario...]
  local mode=$1; shift
  local d
  d=$(mktemp -d /tmp/vsnoop-boot.XXXXXX)
  mkdir -p "$d/x/lab/scenarios" "$d/x/lab/config"
  echo "$mode" >"$d/x/lab/mode"
  printf '%s\n' "$@" >"$d/x/lab/run.list"
  # Settings scenarios read (lab/dom0/lab-lib.sh sources it).
  local bytes=${VSNOOP_LAB_BYTES:-8000000}
  printf 'LAB_BYTES=%s\nSCENARIO_TIMEOUT=%s\n' "$bytes" $((300 + bytes / 100000)) >"$d/x/lab/lab.env"
  cp "$LAB_DIR"/scenarios/*.sh "$d/x/lab/scenarios/"
  cp -r "$LAB_DIR/bench" "$d/x/lab/bench"
  [ -n "${BENCH_NAME:-}" ] && echo "$BENCH_NAME" >"$d/x/lab/bench.name"
  [ -n "${BENCH_ENV:-}" ] && printf '%s\n' "$BENCH_ENV" >"$d/x/lab/bench.env"
  cp "$ROOT"/config/*.cfg "$LAB_DIR"/config/*.cfg "$d/x/lab/config/"
  cp "$KERNEL_ELF" "$d/x/lab/vsnoop.elf"
  lab_tools "$d/x/lab/bin"
  # The guests' initramfs: the cached one plus this boot's tools and role scripts.
  mkdir -p "$d/g/lab/bin" "$d/g/lab/roles" "$d/x/lab/images"
  cp "$d/x/lab/bin/"* "$d/g/lab/bin/"
  cp "$LAB_DIR"/roles/*.sh "$d/g/lab/roles/"
  # One gzip stream: Xen's domain builder inflates a PV ramdisk itself and stops after the
  # first stream, unlike Linux (concatenated cpio archives are fine inside one stream).
  (cd "$d/g" && find . -print0 | cpio --null -o -H newc --quiet) >"$d/guest-extra.cpio"
  { zcat "$IMG/guest.cpio.gz"; cat "$d/guest-extra.cpio"; } | gzip -1 >"$d/x/lab/images/guest-lab.cpio.gz"
  rm -rf "$d/g" "$d/guest-extra.cpio"
  pack_cpio "$d/x" "$d/extra.cpio.gz"
  cat "$IMG/dom0.cpio.gz" "$d/extra.cpio.gz" >"$d/initrd.gz"
  rm -rf "$d/x" "$d/extra.cpio.gz"
  echo "$d/initrd.gz"
}

lab_boot_interactive() {
  local initrd
  initrd=$(lab_initrd shell)
  qemu_args "$initrd"
  log "interactive lab: Ctrl-A x quits QEMU; Ctrl-A Ctrl-A Ctrl-A (3x) switches Xen/dom0 input"
  "${QEMU_ARGS[@]}"
  rm -rf "$(dirname "$initrd")"
}

# The main job: the vSnoop benchmark, short and vsnoop-only (off vs on).
lab_demo() {
  lab_bench "$ROOT/target/demo" vsnoop 4 "${VSNOOP_DEMO_COUNT:-100}" 100000,1000000
}
