//! `struct start_info` (`xen.h`): what Xen hands a PV kernel in `%rsi` at entry.

/// `MAX_GUEST_CMDLINE`.
pub const MAX_GUEST_CMDLINE: usize = 1024;

/// `SIF_PRIVILEGED`.
pub const SIF_PRIVILEGED: u32 = 1 << 0;
/// `SIF_INITDOMAIN`.
pub const SIF_INITDOMAIN: u32 = 1 << 1;
/// `SIF_MULTIBOOT_MOD`.
pub const SIF_MULTIBOOT_MOD: u32 = 1 << 2;
/// `SIF_MOD_START_PFN`: `mod_start` is a pfn, not a virtual address.
pub const SIF_MOD_START_PFN: u32 = 1 << 3;
/// `SIF_VIRT_P2M_4TOOLS`.
pub const SIF_VIRT_P2M_4TOOLS: u32 = 1 << 4;

/// The domU arm of the `console` union.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConsoleDomU {
    /// Machine frame of the console ring page.
    pub mfn: u64,
    /// Event channel of the console ring.
    pub evtchn: u32,
}

/// `struct start_info` for x86_64 (the domU view of the console union).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StartInfo {
    /// `"xen-<version>-<platform>"`, NUL-padded.
    pub magic: [u8; 32],
    /// Total pages allocated to this domain.
    pub nr_pages: u64,
    /// Machine address of the shared info page.
    pub shared_info: u64,
    /// `SIF_*` flags.
    pub flags: u32,
    /// Machine frame of the xenstore ring page.
    pub store_mfn: u64,
    /// Event channel of the xenstore ring.
    pub store_evtchn: u32,
    /// Console ring (domU).
    pub console: ConsoleDomU,
    /// Virtual address of the top-level page table.
    pub pt_base: u64,
    /// Number of bootstrap page-table frames.
    pub nr_pt_frames: u64,
    /// Virtual address of the pfn-to-mfn list.
    pub mfn_list: u64,
    /// Virtual address (or pfn) of a pre-loaded module.
    pub mod_start: u64,
    /// Size in bytes of the pre-loaded module.
    pub mod_len: u64,
    /// Kernel command line, NUL-terminated.
    pub cmd_line: [u8; MAX_GUEST_CMDLINE],
    /// First pfn of the initial p2m table.
    pub first_p2m_pfn: u64,
    /// Number of pfns of the initial p2m table.
    pub nr_p2m_frames: u64,
}

impl StartInfo {
    /// The magic string up to its first NUL (e.g. `xen-3.0-x86_64`).
    pub fn magic_str(&self) -> &str {
        nul_terminated(&self.magic)
    }

    /// The command line up to its first NUL; invalid UTF-8 yields the valid prefix.
    pub fn cmdline(&self) -> &str {
        nul_terminated(&self.cmd_line)
    }

    /// Whether the magic looks like Xen's (`xen-` prefix).
    pub fn magic_ok(&self) -> bool {
        self.magic.starts_with(b"xen-")
    }
}

fn nul_terminated(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    match core::str::from_utf8(&bytes[..end]) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> StartInfo {
        StartInfo {
            magic: [0; 32],
            nr_pages: 0,
            shared_info: 0,
            flags: 0,
            store_mfn: 0,
            store_evtchn: 0,
            console: ConsoleDomU { mfn: 0, evtchn: 0 },
            pt_base: 0,
            nr_pt_frames: 0,
            mfn_list: 0,
            mod_start: 0,
            mod_len: 0,
            cmd_line: [0; MAX_GUEST_CMDLINE],
            first_p2m_pfn: 0,
            nr_p2m_frames: 0,
        }
    }

    #[test]
    fn strings_stop_at_nul_and_survive_garbage() {
        let mut si = blank();
        si.magic[..14].copy_from_slice(b"xen-3.0-x86_64");
        assert!(si.magic_ok());
        assert_eq!(si.magic_str(), "xen-3.0-x86_64");
        // No NUL at all, and invalid UTF-8 after a valid prefix.
        si.cmd_line = [b'a'; MAX_GUEST_CMDLINE];
        assert_eq!(si.cmdline().len(), MAX_GUEST_CMDLINE);
        si.cmd_line[3] = 0xff;
        assert_eq!(si.cmdline(), "aaa");
    }
}
