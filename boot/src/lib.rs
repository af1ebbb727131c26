//! The 64-bit Xen PV entry of the vsnoop kernel.
//!
//! Xen's PV domain builder loads the ELF image at virtual address 0 (`VIRT_BASE` 0), maps it
//! together with `start_info`, the p2m list, the bootstrap page tables and a small stack, and
//! jumps to `_start` with `%rsi` pointing at `start_info`, events masked and no trap table.
//! `_start` switches to the kernel's own stack and calls `kernel_entry(start_info)`, which the
//! kernel crate defines. The notes below tell the domain builder how to load us (see
//! `xen/elfnote.h`); `link.ld` places `.text.boot` at 0 so that the hypercall page lands at
//! 0x1000, the address announced in `XEN_ELFNOTE_HYPERCALL_PAGE`.
#![no_std]

/// Size of the kernel stack the entry code switches to.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

/// `XEN_ELFNOTE_*` note types (`xen/elfnote.h`), the ones the image carries.
pub mod elfnote {
    pub const ENTRY: u32 = 1;
    pub const HYPERCALL_PAGE: u32 = 2;
    pub const VIRT_BASE: u32 = 3;
    pub const PADDR_OFFSET: u32 = 4;
    pub const XEN_VERSION: u32 = 5;
    pub const GUEST_OS: u32 = 6;
    pub const GUEST_VERSION: u32 = 7;
    pub const LOADER: u32 = 8;
    pub const FEATURES: u32 = 10;
}

/// The notes the image must carry, with their expected contents: the single source of truth
/// for the entry assembly's comments and the host test that parses the built ELF.
pub const REQUIRED_STRING_NOTES: &[(u32, &str)] = &[
    (elfnote::GUEST_OS, "Mini-OS"),
    (elfnote::XEN_VERSION, "xen-3.0"),
    (elfnote::LOADER, "generic"),
    (elfnote::FEATURES, "!writable_page_tables"),
];

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .code64
    .globl _start
_start:
    cld
    leaq __boot_stack_top(%rip), %rsp
    movq %rsi, %rdi
    call kernel_entry
1:  ud2
    jmp 1b

    /* The hypercall page: Xen writes one 32-byte stub per hypercall here. */
    .org 0x1000
    .globl hypercall_page
hypercall_page:
    .fill 4096, 1, 0

    .section .bss.boot_stack, "aw", @nobits
    .balign 4096
__boot_stack_bottom:
    .skip {stack_size}
    .globl __boot_stack_top
__boot_stack_top:

    /* Xen ELF notes: name "Xen", type XEN_ELFNOTE_*, 4-byte aligned descriptor. */
    .macro xen_note_begin type
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 3f - 2f
    .long \type
    .asciz "Xen"
    .balign 4
2:
    .endm
    .macro xen_note_end
3:  .balign 4
    .endm
    .macro xen_note_str type, text
    xen_note_begin \type
    .asciz "\text"
    xen_note_end
    .endm
    .macro xen_note_quad type, value
    xen_note_begin \type
    .quad \value
    xen_note_end
    .endm

    xen_note_str 6, "Mini-OS"
    xen_note_str 7, "vsnoop"
    xen_note_str 5, "xen-3.0"
    xen_note_quad 3, 0
    xen_note_quad 4, 0
    xen_note_quad 1, _start
    xen_note_quad 2, hypercall_page
    xen_note_str 10, "!writable_page_tables"
    xen_note_str 8, "generic"
    .text
"#,
    stack_size = const BOOT_STACK_SIZE,
    options(att_syntax)
);
