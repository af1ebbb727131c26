//! Links the PV image with `boot/link.ld` when building for `x86_64-xen.json`; on the host
//! the kernel crate is an empty shell and needs nothing.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let script =
        std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../boot/link.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    if os == "none" {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rustc-link-arg-bins=--no-warn-rwx-segments");
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
        println!("cargo:rustc-link-arg-bins=--build-id=none");
    }
}
