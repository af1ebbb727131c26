//! Checks the built kernel ELF (`target/x86_64-xen/release/vsnoop`) carries the Xen ELF notes
//! the PV domain builder needs, with the values the boot code promises.
//!
//! The ELF comes from `cargo kbuild` (`./run-xen.sh build`). `./run-xen.sh test` builds it first
//! and sets `VSNOOP_REQUIRE_KERNEL_ELF=1`, so there a missing ELF is a failure; a plain
//! `cargo test` on a tree where the kernel was never built skips the check with a message.

use std::path::PathBuf;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;

fn kernel_elf() -> Option<Vec<u8>> {
    let path = std::env::var_os("VSNOOP_KERNEL_ELF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/x86_64-xen/release/vsnoop")
        });
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            assert!(
                std::env::var_os("VSNOOP_REQUIRE_KERNEL_ELF").is_none(),
                "kernel ELF {} unreadable: {e}",
                path.display()
            );
            eprintln!(
                "skipping: {} not built (./run-xen.sh build)",
                path.display()
            );
            None
        }
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

struct Phdr {
    kind: u32,
    offset: usize,
    vaddr: u64,
    filesz: usize,
}

fn phdrs(elf: &[u8]) -> Vec<Phdr> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not ELF64");
    assert_eq!(u16_at(elf, 18), 62, "not x86_64");
    let (phoff, phentsize, phnum) = (
        u64_at(elf, 32) as usize,
        u16_at(elf, 54) as usize,
        u16_at(elf, 56) as usize,
    );
    (0..phnum)
        .map(|i| {
            let p = phoff + i * phentsize;
            Phdr {
                kind: u32_at(elf, p),
                offset: u64_at(elf, p + 8) as usize,
                vaddr: u64_at(elf, p + 16),
                filesz: u64_at(elf, p + 32) as usize,
            }
        })
        .collect()
}

/// `(type, descriptor)` of every note named "Xen" in PT_NOTE segments.
fn xen_notes(elf: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    for ph in phdrs(elf).iter().filter(|p| p.kind == PT_NOTE) {
        let seg = &elf[ph.offset..ph.offset + ph.filesz];
        let mut o = 0;
        while o + 12 <= seg.len() {
            let (namesz, descsz, kind) = (
                u32_at(seg, o) as usize,
                u32_at(seg, o + 4) as usize,
                u32_at(seg, o + 8),
            );
            let name_at = o + 12;
            let desc_at = name_at + namesz.div_ceil(4) * 4;
            let name = &seg[name_at..name_at + namesz];
            if name == b"Xen\0" {
                out.push((kind, seg[desc_at..desc_at + descsz].to_vec()));
            }
            o = desc_at + descsz.div_ceil(4) * 4;
        }
    }
    out
}

fn note(notes: &[(u32, Vec<u8>)], kind: u32) -> &[u8] {
    let found: Vec<_> = notes.iter().filter(|(k, _)| *k == kind).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one Xen note of type {kind}"
    );
    &found[0].1
}

#[test]
fn kernel_carries_the_xen_elf_notes() {
    let Some(elf) = kernel_elf() else { return };
    let notes = xen_notes(&elf);
    for &(kind, text) in boot::REQUIRED_STRING_NOTES {
        let desc = note(&notes, kind);
        assert_eq!(
            desc,
            [text.as_bytes(), b"\0"].concat(),
            "note {kind} should be {text:?}"
        );
    }
    let quad = |kind| u64::from_le_bytes(note(&notes, kind).try_into().expect("8-byte note"));
    use boot::elfnote::*;
    assert_eq!(quad(VIRT_BASE), 0, "image is linked at 0");
    assert_eq!(quad(PADDR_OFFSET), 0);
    let e_entry = u64_at(&elf, 24);
    assert_eq!(
        quad(ENTRY),
        e_entry,
        "ENTRY note matches the ELF entry point"
    );
    assert_eq!(quad(HYPERCALL_PAGE), 0x1000, "hypercall page at 0x1000");
    assert!(!note(&notes, GUEST_VERSION).is_empty());

    let loads: Vec<_> = phdrs(&elf)
        .into_iter()
        .filter(|p| p.kind == PT_LOAD)
        .collect();
    assert_eq!(loads.len(), 1, "one loadable segment");
    assert_eq!(loads[0].vaddr, 0, "loaded at VIRT_BASE");
    assert!(loads[0].filesz >= 0x2000, "image holds the hypercall page");
}
