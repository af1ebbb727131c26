# image: Xen, the Debian kernel, dom0's root filesystem and the guest initramfs, cached under
# $CACHE_ROOT/<key>, where the key names the package versions and a hash of this recipe.
# shellcheck shell=bash

# Modules dom0 loads (the closure of their dependencies is copied).
DOM0_MODULES=(xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-pciback xen-netback
  bridge e1000 virtio_pci virtio_net xen-netfront)
# Modules a Linux guest (netfront) or the Linux baseline driver domain loads.
GUEST_MODULES=(xen-netfront xen-netback xen-pcifront bridge virtio_pci virtio_net)
DOM0_PACKAGES="xen-utils-4.17,xenstore-utils,iproute2,busybox,kmod,bridge-utils,procps,pciutils,iputils-ping"

recipe_hash() {
  cat "$LAB_DIR/image.sh" "$LAB_DIR"/dom0/* "$LAB_DIR"/guest/* | sha256sum | cut -c1-12
}

# Sets IMG (the cache directory of the current image) and the version variables.
image_resolve() {
  XEN_VERSION=$(apt_candidate "$XEN_PKG")
  KERNEL_PKG=$(kernel_package)
  [ -n "$XEN_VERSION" ] && [ -n "$KERNEL_PKG" ] \
    || die "cannot resolve $XEN_PKG / linux-image-amd64 with apt-cache (run 'apt-get update')"
  KERNEL_VERSION=$(apt_candidate "$KERNEL_PKG")
  KREL=${KERNEL_PKG#linux-image-}
  IMG="$CACHE_ROOT/xen-${XEN_VERSION}_${KERNEL_PKG}-${KERNEL_VERSION}_${SUITE}_$(recipe_hash)"
}

image_ready() { [ -f "$IMG/.done" ]; }

# Copies modules and their dependencies from the extracted kernel tree into $2.
copy_modules() {
  local tree=$1 dest=$2; shift 2
  local m f rel
  for m in "$@"; do
    modprobe -d "$tree" -S "$KREL" --show-depends "$m" | awk '$1=="insmod" {print $2}'
  done | sort -u | while read -r f; do
    rel=${f#"$tree"/}
    mkdir -p "$dest/$(dirname "$rel")"
    cp "$f" "$dest/$rel"
  done
  cp "$tree/lib/modules/$KREL"/modules.{order,builtin,builtin.modinfo} "$dest/lib/modules/$KREL/"
  depmod -b "$dest" "$KREL"
}

pack_cpio() { # dir out.cpio.gz
  (cd "$1" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$2"
}

image_build() {
  image_resolve
  if image_ready; then
    log "image up to date: $IMG"
    return 0
  fi
  need_root image
  log "building lab image in $IMG (Xen $XEN_VERSION, $KERNEL_PKG $KERNEL_VERSION)"
  rm -rf "$IMG.tmp"
  mkdir -p "$IMG.tmp/debs"
  chmod 777 "$IMG.tmp/debs"   # apt-get download drops privileges to _apt
  (cd "$IMG.tmp/debs" && apt-get download -q -o APT::Sandbox::User=root "$XEN_PKG" "$KERNEL_PKG" >/dev/null) \
    || die "apt-get download $XEN_PKG $KERNEL_PKG failed"
  local t="$IMG.tmp"
  dpkg-deb -x "$t"/debs/xen-hypervisor-*.deb "$t/xenpkg"
  zcat "$t"/xenpkg/boot/xen-4.17-amd64.gz >"$t/xen.elf"
  dpkg-deb -x "$t"/debs/linux-image-*.deb "$t/linux"
  cp "$t/linux/boot/vmlinuz-$KREL" "$t/vmlinuz"
  depmod -b "$t/linux" "$KREL"

  build_guest_initramfs "$t"
  build_dom0_rootfs "$t"

  rm -rf "$t/debs" "$t/xenpkg" "$t/linux"
  rm -rf "$IMG"
  mv "$t" "$IMG"
  touch "$IMG/.done"
  # Older images (other versions or recipes) are dead weight: keep only this one.
  find "$CACHE_ROOT" -maxdepth 1 -name 'xen-*' -type d ! -path "$IMG" -exec rm -rf {} +
  log "image ready: $(du -sh "$IMG" | cut -f1) in $IMG"
}

build_guest_initramfs() {
  local t=$1 g="$1/guest-root"
  rm -rf "$g"
  mkdir -p "$g"/{bin,sbin,etc,proc,sys,dev,tmp,root,lib/modules}
  local a
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$g/bin/$a"
  done
  cp /bin/busybox "$g/bin/busybox"
  copy_modules "$t/linux" "$g" "${GUEST_MODULES[@]}"
  install -m 0755 "$LAB_DIR/guest/init" "$g/init"
  pack_cpio "$g" "$t/guest.cpio.gz"
  rm -rf "$g"
}

build_dom0_rootfs() {
  local t=$1 r="$1/dom0-root"
  local base="$CACHE_ROOT/debootstrap-${SUITE}-$(echo "$DOM0_PACKAGES" | sha256sum | cut -c1-8)"
  if [ ! -f "$base/.done" ]; then
    log "debootstrap $SUITE (minbase + xen-utils), about a minute"
    rm -rf "$base"
    debootstrap --variant=minbase --include="$DOM0_PACKAGES" "$SUITE" "$base" "$(debian_mirror)" \
      >"$CACHE_ROOT/debootstrap.log" 2>&1 || { tail -20 "$CACHE_ROOT/debootstrap.log"; die "debootstrap failed"; }
    touch "$base/.done"
  fi
  rm -rf "$r"
  cp -a "$base" "$r"
  rm -f "$r/.done"
  # Trim what a lab dom0 never uses.
  rm -rf "$r"/usr/share/{doc,man,info,locale,i18n,zoneinfo,bash-completion,lintian,common-licenses} \
    "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/usr/share/perl* "$r"/usr/lib/x86_64-linux-gnu/perl* \
    "$r"/usr/lib/python3* "$r"/usr/share/python3* "$r"/var/log/*
  copy_modules "$t/linux" "$r" "${DOM0_MODULES[@]}"
  mkdir -p "$r/lab/images"
  cp "$t/vmlinuz" "$t/guest.cpio.gz" "$r/lab/images/"
  install -m 0755 "$LAB_DIR/dom0/init" "$r/init"
  install -m 0755 "$LAB_DIR/dom0/lab-lib.sh" "$r/lab/lab-lib.sh"
  # Integrity baseline: hashes of dom0's own tools, re-checked after each scenario so that
  # the known QEMU memory-corruption defect is reported as a lab failure, not a vsnoop one.
  (cd "$r" && find usr/lib/xen-4.17 usr/sbin usr/bin -type f -size -4M 2>/dev/null | sort | head -400 \
    | xargs sha256sum) >"$r/lab/integrity.sha256"
  pack_cpio "$r" "$t/dom0.cpio.gz"
  rm -rf "$r"
}
