//! Checks `xen::abi` against Xen's C headers (Debian `libxen-dev`, `/usr/include/xen`).
//!
//! The test builds a table of checks (sizes, alignments, field offsets and sizes of every
//! `#[repr(C)]` type; values of every constant), writes a C program that prints the C side
//! of each check, compiles it with `cc`, runs it and compares. C names of constants are
//! found by matching the Rust name case-insensitively against the identifiers in the
//! headers (with a per-module prefix), unless an explicit C expression is given. A final
//! pass scans `src/abi/*.rs` so that a new constant or `#[repr(C)]` type without a check
//! fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use xen::abi;

const XEN_INCLUDE: &str = "/usr/include/xen";

/// Headers the C program includes, in order (`<errno.h>` first so that `xs_wire.h` defines
/// its `xsd_errors` table).
const HEADERS: &[&str] = &[
    "xen.h",
    "errno.h",
    "features.h",
    "version.h",
    "grant_table.h",
    "event_channel.h",
    "sched.h",
    "memory.h",
    "physdev.h",
    "vcpu.h",
    "callback.h",
    "arch-x86/xen.h",
    "arch-x86/xen-x86_64.h",
    "io/ring.h",
    "io/netif.h",
    "io/xs_wire.h",
    "io/xenbus.h",
    "io/console.h",
    "io/pciif.h",
];

enum Val {
    Num(u64),
    Str(String),
}

struct Check {
    /// What is checked, e.g. `abi::grant_table::GTF_READONLY` or
    /// `GnttabMapGrantRef.ref_ offset`.
    what: String,
    c_expr: String,
    rust: Val,
}

#[derive(Default)]
struct Checks {
    list: Vec<Check>,
    /// Rust paths of the constants checked (`abi::grant_table::GTF_READONLY`).
    consts: BTreeSet<String>,
    /// `type_name`s of the types checked.
    types: BTreeSet<String>,
    /// Upper-cased C identifier -> spellings found in the headers.
    c_idents: BTreeMap<String, BTreeSet<String>>,
}

impl Checks {
    fn num(&mut self, what: impl Into<String>, c_expr: impl Into<String>, v: u64) {
        self.list.push(Check {
            what: what.into(),
            c_expr: c_expr.into(),
            rust: Val::Num(v),
        });
    }

    fn text(&mut self, what: impl Into<String>, c_expr: impl Into<String>, v: &str) {
        self.list.push(Check {
            what: what.into(),
            c_expr: c_expr.into(),
            rust: Val::Str(v.to_string()),
        });
    }

    /// The C identifier spelled `prefix + name` up to case.
    fn resolve(&self, prefix: &str, name: &str) -> String {
        let want = format!("{prefix}{name}");
        let set = self
            .c_idents
            .get(&want.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("no C identifier matches {want} (case-insensitively)"));
        if set.contains(&want) {
            return want;
        }
        assert!(set.len() == 1, "{want} is ambiguous in C: {set:?}");
        set.iter().next().unwrap().clone()
    }

    fn constant(&mut self, path: &str, name: &str, prefix: &str, c_expr: Option<&str>, v: u64) {
        let c = match c_expr {
            Some(e) => e.to_string(),
            None => self.resolve(prefix, name),
        };
        self.consts.insert(path.to_string());
        self.num(path, c, v);
    }

    fn str_constant(&mut self, path: &str, c_expr: &str, v: &str) {
        self.consts.insert(path.to_string());
        self.text(path, c_expr, v);
    }
}

/// Size of the field a raw-pointer projection points to.
fn field_size<T, F>(_: fn(*const T) -> *const F) -> usize {
    std::mem::size_of::<F>()
}

/// Constants of one Rust module: `consts!(c, abi::grant_table, "" ; A, B = "C_EXPR", ...)`.
/// The C name is the upper-case match of `prefix + NAME` unless a C expression is given.
macro_rules! consts {
    ($c:ident, $($m:ident)::+, $prefix:literal ; $( $n:ident $(= $cx:literal)? ),* $(,)?) => {{
        #[allow(unused_imports)]
        use $($m)::+ as m_;
        let module: &str = concat!($(stringify!($m), "::",)+);
        $(
            $c.constant(
                &format!("{module}{}", stringify!($n)),
                stringify!($n),
                $prefix,
                consts!(@opt $($cx)?),
                m_::$n as u64,
            );
        )*
    }};
    (@opt) => { None };
    (@opt $cx:literal) => { Some($cx) };
}

/// A `#[repr(C)]` struct or union: size, alignment, and each field's offset and size.
/// `layout!(c, Type, "C type" { rust_field, rust_field = "c.field", ... })`;
/// `layout!(c, Type, "C type", nosize { ... })` skips the size (flexible-array headers).
macro_rules! layout {
    ($c:ident, $t:ty, $ct:literal { $( $f:ident $(= $cf:literal)? ),* $(,)? }) => {
        layout!(@go $c, $t, $ct, true, { $( $f $(= $cf)? ),* });
    };
    ($c:ident, $t:ty, $ct:literal, nosize { $( $f:ident $(= $cf:literal)? ),* $(,)? }) => {
        layout!(@go $c, $t, $ct, false, { $( $f $(= $cf)? ),* });
    };
    (@go $c:ident, $t:ty, $ct:literal, $size:expr, { $( $f:ident $(= $cf:literal)? ),* }) => {{
        let tn = std::any::type_name::<$t>();
        $c.types.insert(tn.to_string());
        let short = tn.rsplit("::").next().unwrap();
        if $size {
            $c.num(format!("sizeof {short}"), format!("sizeof({})", $ct), std::mem::size_of::<$t>() as u64);
        }
        $c.num(format!("alignof {short}"), format!("_Alignof({})", $ct), std::mem::align_of::<$t>() as u64);
        $(
            let cf: &str = layout!(@cf $f $(, $cf)?);
            $c.num(
                format!("{short}.{} offset", stringify!($f)),
                format!("offsetof({}, {})", $ct, cf),
                std::mem::offset_of!($t, $f) as u64,
            );
            $c.num(
                format!("{short}.{} size", stringify!($f)),
                format!("sizeof((({} *)0)->{})", $ct, cf),
                // SAFETY: only the address of the field is computed, never dereferenced.
                field_size(|p: *const $t| unsafe { std::ptr::addr_of!((*p).$f) }) as u64,
            );
        )*
    }};
    (@cf $f:ident) => { stringify!($f) };
    (@cf $f:ident, $cf:literal) => { $cf };
}

/// Collects every identifier visible after preprocessing the headers (`cc -E -dD`: the
/// code plus the macros that are actually defined for our interface version).
fn scan_c_idents(c: &mut Checks) {
    let out = run_cc(&c_prelude(), &["-E", "-dD"], "idents.c", false);
    let mut cur = String::new();
    for ch in out.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            cur.push(ch);
        } else if !cur.is_empty() {
            if !cur.as_bytes()[0].is_ascii_digit() {
                c.c_idents
                    .entry(cur.to_ascii_uppercase())
                    .or_default()
                    .insert(std::mem::take(&mut cur));
            }
            cur.clear();
        }
    }
}

fn all_checks() -> Checks {
    let mut c = Checks::default();
    scan_c_idents(&mut c);

    // ---- abi (xen.h, arch-x86)
    consts!(c, abi, "" ;
        MACH2PHYS_VIRT_START, MACH2PHYS_VIRT_END, HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END,
        FLAT_KERNEL_CS64, FLAT_KERNEL_SS64, FLAT_KERNEL_DS64,
        PAGE_SIZE = "(1 << XEN_PAGE_SHIFT)", PAGE_SHIFT = "XEN_PAGE_SHIFT",
        DOMID_SELF, DOMID_IO, DOMID_XEN, DOMID_COW, DOMID_INVALID, DOMID_IDLE,
        DOMID_FIRST_RESERVED,
        CONSOLEIO_WRITE, CONSOLEIO_READ,
        VMASST_CMD_ENABLE, VMASST_CMD_DISABLE, VMASST_TYPE_4GB_SEGMENTS,
        VMASST_TYPE_4GB_SEGMENTS_NOTIFY, VMASST_TYPE_WRITABLE_PAGETABLES,
        VMASST_TYPE_PAE_EXTENDED_CR3, VMASST_TYPE_ARCHITECTURAL_IOPL,
        VMASST_TYPE_RUNSTATE_UPDATE_FLAG, VMASST_TYPE_M2P_STRICT,
    );
    consts!(c, abi::hypercall_nr, "__HYPERVISOR_" ;
        SET_TRAP_TABLE, MMU_UPDATE, SET_GDT, STACK_SWITCH, SET_CALLBACKS, FPU_TASKSWITCH,
        MEMORY_OP, MULTICALL, UPDATE_VA_MAPPING, SET_TIMER_OP, XEN_VERSION, CONSOLE_IO,
        GRANT_TABLE_OP, VM_ASSIST, UPDATE_VA_MAPPING_OTHERDOMAIN, IRET, VCPU_OP,
        SET_SEGMENT_BASE, MMUEXT_OP, SCHED_OP, CALLBACK_OP, EVENT_CHANNEL_OP, PHYSDEV_OP,
        HVM_OP,
    );
    consts!(c, abi::virq, "VIRQ_" ; TIMER, DEBUG, CONSOLE, DOM_EXC, ENOMEM);

    // ---- errno.h (enum xen_errno: XEN_E*)
    c.consts.insert("abi::errno::ALL".into());
    for &(v, name, _) in abi::errno::ALL {
        c.consts.insert(format!("abi::errno::{name}"));
        c.num(
            format!("abi::errno::{name}"),
            format!("XEN_{name}"),
            v as u64,
        );
    }

    // ---- start_info
    consts!(c, abi::start_info, "" ;
        MAX_GUEST_CMDLINE, SIF_PRIVILEGED, SIF_INITDOMAIN, SIF_MULTIBOOT_MOD,
        SIF_MOD_START_PFN, SIF_VIRT_P2M_4TOOLS,
    );
    layout!(c, abi::start_info::StartInfo, "struct start_info" {
        magic, nr_pages, shared_info, flags, store_mfn, store_evtchn, console,
        pt_base, nr_pt_frames, mfn_list, mod_start, mod_len, cmd_line, first_p2m_pfn,
        nr_p2m_frames,
    });
    layout!(c, abi::start_info::ConsoleDomU,
        "__typeof__(((struct start_info *)0)->console.domU)" { mfn, evtchn });

    // ---- shared_info, vcpu_info
    consts!(c, abi::shared_info, "" ;
        XEN_LEGACY_MAX_VCPUS, XEN_PVCLOCK_TSC_STABLE_BIT, XEN_PVCLOCK_GUEST_STOPPED,
    );
    layout!(c, abi::shared_info::VcpuTimeInfo, "struct vcpu_time_info" {
        version, pad0, tsc_timestamp, system_time, tsc_to_system_mul, tsc_shift, flags, pad1,
    });
    layout!(c, abi::shared_info::ArchVcpuInfo, "struct arch_vcpu_info" { cr2, pad });
    layout!(c, abi::shared_info::VcpuInfo, "struct vcpu_info" {
        evtchn_upcall_pending, evtchn_upcall_mask, evtchn_pending_sel, arch, time,
    });
    layout!(c, abi::shared_info::ArchSharedInfo, "struct arch_shared_info" {
        max_pfn, pfn_to_mfn_frame_list_list, nmi_reason, p2m_cr3, p2m_vaddr, p2m_generation,
    });
    layout!(c, abi::shared_info::SharedInfo, "struct shared_info" {
        vcpu_info, evtchn_pending, evtchn_mask, wc_version, wc_sec, wc_nsec, wc_sec_hi, arch,
    });

    // ---- callback.h, trap_info
    consts!(c, abi::callback, "" ;
        CALLBACKTYPE_EVENT, CALLBACKTYPE_FAILSAFE, CALLBACKTYPE_SYSCALL, CALLBACKTYPE_NMI,
        CALLBACKTYPE_SYSENTER, CALLBACKTYPE_SYSCALL32, CALLBACKF_MASK_EVENTS,
        CALLBACKOP_REGISTER, CALLBACKOP_UNREGISTER,
        TI_IF = "({ struct trap_info t = {0}; TI_SET_IF(&t, 1); t.flags; })",
    );
    layout!(c, abi::callback::CallbackRegister, "struct callback_register" {
        type_ = "type", flags, address,
    });
    layout!(c, abi::callback::CallbackUnregister, "struct callback_unregister" {
        type_ = "type", _unused,
    });
    layout!(c, abi::callback::TrapInfo, "struct trap_info" { vector, flags, cs, address });

    // ---- vcpu.h
    consts!(c, abi::vcpu, "" ;
        VCPUOP_INITIALISE, VCPUOP_UP, VCPUOP_DOWN, VCPUOP_IS_UP, VCPUOP_GET_RUNSTATE_INFO,
        VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA, VCPUOP_SET_PERIODIC_TIMER,
        VCPUOP_STOP_PERIODIC_TIMER, VCPUOP_SET_SINGLESHOT_TIMER, VCPUOP_STOP_SINGLESHOT_TIMER,
        VCPUOP_REGISTER_VCPU_INFO, VCPUOP_SEND_NMI, VCPUOP_GET_PHYSID, VCPU_SSHOTTMR_FUTURE,
        RUNSTATE_RUNNING, RUNSTATE_RUNNABLE, RUNSTATE_BLOCKED, RUNSTATE_OFFLINE,
    );
    layout!(c, abi::vcpu::VcpuRunstateInfo, "struct vcpu_runstate_info" {
        state, state_entry_time, time,
    });
    layout!(c, abi::vcpu::VcpuSetPeriodicTimer, "struct vcpu_set_periodic_timer" { period_ns });
    layout!(c, abi::vcpu::VcpuSetSingleshotTimer, "struct vcpu_set_singleshot_timer" {
        timeout_abs_ns, flags,
    });
    layout!(c, abi::vcpu::VcpuRegisterVcpuInfo, "struct vcpu_register_vcpu_info" {
        mfn, offset, rsvd,
    });

    // ---- sched.h
    consts!(c, abi::sched, "" ;
        SCHEDOP_YIELD, SCHEDOP_BLOCK, SCHEDOP_SHUTDOWN, SCHEDOP_POLL, SCHEDOP_REMOTE_SHUTDOWN,
        SCHEDOP_SHUTDOWN_CODE, SCHEDOP_WATCHDOG, SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT,
        SHUTDOWN_SUSPEND, SHUTDOWN_CRASH, SHUTDOWN_WATCHDOG, SHUTDOWN_SOFT_RESET,
    );
    layout!(c, abi::sched::SchedShutdown, "struct sched_shutdown" { reason });
    layout!(c, abi::sched::SchedPoll, "struct sched_poll" { ports, nr_ports, timeout });
    layout!(c, abi::sched::SchedWatchdog, "struct sched_watchdog" { id, timeout });

    // ---- version.h, features.h
    consts!(c, abi::version, "" ;
        XENVER_VERSION, XENVER_EXTRAVERSION, XENVER_CAPABILITIES, XENVER_GET_FEATURES,
        XENVER_PAGESIZE, XEN_EXTRAVERSION_LEN, XEN_CAPABILITIES_INFO_LEN,
        XENFEAT_WRITABLE_PAGE_TABLES, XENFEAT_AUTO_TRANSLATED_PHYSMAP,
        XENFEAT_SUPERVISOR_MODE_KERNEL, XENFEAT_GNTTAB_MAP_AVAIL_BITS,
    );
    layout!(c, abi::version::XenFeatureInfo, "struct xen_feature_info" { submap_idx, submap });

    // ---- event_channel.h
    consts!(c, abi::event_channel, "" ;
        EVTCHNOP_BIND_INTERDOMAIN, EVTCHNOP_BIND_VIRQ, EVTCHNOP_BIND_PIRQ, EVTCHNOP_CLOSE,
        EVTCHNOP_SEND, EVTCHNOP_STATUS, EVTCHNOP_ALLOC_UNBOUND, EVTCHNOP_BIND_IPI,
        EVTCHNOP_BIND_VCPU, EVTCHNOP_UNMASK, EVTCHNOP_RESET,
        BIND_PIRQ_WILL_SHARE = "BIND_PIRQ__WILL_SHARE",
        EVTCHNSTAT_CLOSED, EVTCHNSTAT_UNBOUND, EVTCHNSTAT_INTERDOMAIN, EVTCHNSTAT_PIRQ,
        EVTCHNSTAT_VIRQ, EVTCHNSTAT_IPI, EVTCHN_2L_NR_CHANNELS,
    );
    layout!(c, abi::event_channel::EvtchnAllocUnbound, "struct evtchn_alloc_unbound" {
        dom, remote_dom, port,
    });
    layout!(c, abi::event_channel::EvtchnBindInterdomain, "struct evtchn_bind_interdomain" {
        remote_dom, remote_port, local_port,
    });
    layout!(c, abi::event_channel::EvtchnBindVirq, "struct evtchn_bind_virq" { virq, vcpu, port });
    layout!(c, abi::event_channel::EvtchnBindPirq, "struct evtchn_bind_pirq" { pirq, flags, port });
    layout!(c, abi::event_channel::EvtchnBindIpi, "struct evtchn_bind_ipi" { vcpu, port });
    layout!(c, abi::event_channel::EvtchnClose, "struct evtchn_close" { port });
    layout!(c, abi::event_channel::EvtchnSend, "struct evtchn_send" { port });
    layout!(c, abi::event_channel::EvtchnUnmask, "struct evtchn_unmask" { port });
    layout!(c, abi::event_channel::EvtchnBindVcpu, "struct evtchn_bind_vcpu" { port, vcpu });
    layout!(c, abi::event_channel::EvtchnStatus, "struct evtchn_status" {
        dom, port, status, vcpu, u,
    });
    layout!(c, abi::event_channel::EvtchnStatusU,
        "__typeof__(((struct evtchn_status *)0)->u)" {
        unbound_dom = "unbound.dom", interdomain, pirq, virq,
    });
    layout!(c, abi::event_channel::EvtchnStatusInterdomain,
        "__typeof__(((struct evtchn_status *)0)->u.interdomain)" { dom, port });

    // ---- grant_table.h
    consts!(c, abi::grant_table, "" ;
        GNTTAB_NR_RESERVED_ENTRIES, GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE,
        GTF_INVALID, GTF_PERMIT_ACCESS, GTF_ACCEPT_TRANSFER, GTF_TRANSITIVE, GTF_TYPE_MASK,
        GTF_READONLY, GTF_READING, GTF_WRITING, GTF_PWT, GTF_PCD, GTF_PAT, GTF_SUB_PAGE,
        GTF_TRANSFER_COMMITTED, GTF_TRANSFER_COMPLETED,
        GNTTABOP_MAP_GRANT_REF, GNTTABOP_UNMAP_GRANT_REF, GNTTABOP_SETUP_TABLE,
        GNTTABOP_DUMP_TABLE, GNTTABOP_TRANSFER, GNTTABOP_COPY, GNTTABOP_QUERY_SIZE,
        GNTTABOP_UNMAP_AND_REPLACE, GNTTABOP_SET_VERSION, GNTTABOP_GET_STATUS_FRAMES,
        GNTTABOP_GET_VERSION,
        GNTMAP_DEVICE_MAP, GNTMAP_HOST_MAP, GNTMAP_READONLY, GNTMAP_APPLICATION_MAP,
        GNTMAP_CONTAINS_PTE, GNTCOPY_SOURCE_GREF, GNTCOPY_DEST_GREF,
        GNTST_OKAY, GNTST_GENERAL_ERROR, GNTST_BAD_DOMAIN, GNTST_BAD_GNTREF, GNTST_BAD_HANDLE,
        GNTST_BAD_VIRT_ADDR, GNTST_BAD_DEV_ADDR, GNTST_NO_DEVICE_SPACE,
        GNTST_PERMISSION_DENIED, GNTST_BAD_PAGE, GNTST_BAD_COPY_ARG, GNTST_ADDRESS_TOO_BIG,
        GNTST_EAGAIN, GNTST_NO_SPACE,
    );
    for st in 0..=13i16 {
        let msg = abi::grant_table::GntStatus(-st).message();
        c.text(
            format!("GntStatus({}) message", -st),
            format!("((const char *[])GNTTABOP_error_msgs)[{st}]"),
            msg,
        );
    }
    layout!(c, abi::grant_table::GrantEntryV1, "struct grant_entry_v1" { flags, domid, frame });
    layout!(c, abi::grant_table::GnttabMapGrantRef, "struct gnttab_map_grant_ref" {
        host_addr, flags, ref_ = "ref", dom, status, handle, dev_bus_addr,
    });
    layout!(c, abi::grant_table::GnttabUnmapGrantRef, "struct gnttab_unmap_grant_ref" {
        host_addr, dev_bus_addr, handle, status,
    });
    layout!(c, abi::grant_table::GnttabSetupTable, "struct gnttab_setup_table" {
        dom, nr_frames, status, frame_list,
    });
    layout!(c, abi::grant_table::GnttabQuerySize, "struct gnttab_query_size" {
        dom, nr_frames, max_nr_frames, status,
    });
    layout!(c, abi::grant_table::GnttabCopyPtrU,
        "__typeof__(((struct gnttab_copy_ptr *)0)->u)" { ref_ = "ref", gmfn });
    layout!(c, abi::grant_table::GnttabCopyPtr, "struct gnttab_copy_ptr" { u, domid, offset });
    layout!(c, abi::grant_table::GnttabCopy, "struct gnttab_copy" {
        source, dest, len, flags, status,
    });

    // ---- memory.h
    consts!(c, abi::memory, "" ;
        XENMEM_INCREASE_RESERVATION, XENMEM_DECREASE_RESERVATION, XENMEM_MAXIMUM_RAM_PAGE,
        XENMEM_CURRENT_RESERVATION, XENMEM_MAXIMUM_RESERVATION, XENMEM_MACHPHYS_MFN_LIST,
        XENMEM_POPULATE_PHYSMAP, XENMEM_ADD_TO_PHYSMAP, XENMEM_EXCHANGE,
        XENMEM_MACHPHYS_MAPPING, XENMEM_MAXIMUM_GPFN, XENMEMF_POPULATE_ON_DEMAND,
        XENMEMF_EXACT_NODE_REQUEST,
    );
    c.num(
        "abi::memory::xenmemf_address_bits(32)",
        "XENMEMF_address_bits(32)",
        abi::memory::xenmemf_address_bits(32) as u64,
    );
    layout!(c, abi::memory::XenMemoryReservation, "struct xen_memory_reservation" {
        extent_start, nr_extents, extent_order, mem_flags, domid,
    });
    layout!(c, abi::memory::XenMemoryExchange, "struct xen_memory_exchange" {
        in_ = "in", out, nr_exchanged,
    });
    layout!(c, abi::memory::XenMemoryDomain, "struct xen_memory_domain" { domid });
    layout!(c, abi::memory::XenMachphysMapping, "struct xen_machphys_mapping" {
        v_start, v_end, max_mfn,
    });

    // ---- mmu (xen.h)
    consts!(c, abi::mmu, "" ;
        MMU_NORMAL_PT_UPDATE, MMU_MACHPHYS_UPDATE, MMU_PT_UPDATE_PRESERVE_AD,
        MMU_PT_UPDATE_NO_TRANSLATE,
        MMUEXT_PIN_L1_TABLE, MMUEXT_PIN_L2_TABLE, MMUEXT_PIN_L3_TABLE, MMUEXT_PIN_L4_TABLE,
        MMUEXT_UNPIN_TABLE, MMUEXT_NEW_BASEPTR, MMUEXT_TLB_FLUSH_LOCAL, MMUEXT_INVLPG_LOCAL,
        MMUEXT_TLB_FLUSH_MULTI, MMUEXT_INVLPG_MULTI, MMUEXT_TLB_FLUSH_ALL, MMUEXT_INVLPG_ALL,
        MMUEXT_FLUSH_CACHE, MMUEXT_SET_LDT, MMUEXT_NEW_USER_BASEPTR, MMUEXT_CLEAR_PAGE,
        MMUEXT_COPY_PAGE,
        UVMF_NONE, UVMF_TLB_FLUSH, UVMF_INVLPG, UVMF_FLUSHTYPE_MASK, UVMF_LOCAL, UVMF_ALL,
    );
    layout!(c, abi::mmu::MmuUpdate, "struct mmu_update" { ptr, val });
    layout!(c, abi::mmu::MmuextOp, "struct mmuext_op" { cmd, arg1, arg2 });
    layout!(c, abi::mmu::MulticallEntry, "struct multicall_entry" { op, result, args });

    // ---- physdev.h
    consts!(c, abi::physdev, "" ;
        PHYSDEVOP_IRQ_STATUS_QUERY, PHYSDEVOP_SET_IOPL, PHYSDEVOP_EOI, PHYSDEVOP_MAP_PIRQ,
        PHYSDEVOP_UNMAP_PIRQ, PHYSDEVOP_PIRQ_EOI_GMFN_V2, PHYSDEVOP_GET_FREE_PIRQ,
        XENIRQSTAT_NEEDS_EOI, XENIRQSTAT_SHARED,
        MAP_PIRQ_TYPE_MSI, MAP_PIRQ_TYPE_GSI, MAP_PIRQ_TYPE_UNKNOWN, MAP_PIRQ_TYPE_MSI_SEG,
        MAP_PIRQ_TYPE_MULTI_MSI,
    );
    layout!(c, abi::physdev::PhysdevEoi, "struct physdev_eoi" { irq });
    layout!(c, abi::physdev::PhysdevIrqStatusQuery, "struct physdev_irq_status_query" {
        irq, flags,
    });
    layout!(c, abi::physdev::PhysdevSetIopl, "struct physdev_set_iopl" { iopl });
    layout!(c, abi::physdev::PhysdevPirqEoiGmfn, "struct physdev_pirq_eoi_gmfn" { gmfn });
    layout!(c, abi::physdev::PhysdevMapPirq, "struct physdev_map_pirq" {
        domid, type_ = "type", index, pirq, bus, devfn, entry_nr, table_base,
    });
    layout!(c, abi::physdev::PhysdevUnmapPirq, "struct physdev_unmap_pirq" { domid, pirq });
    layout!(c, abi::physdev::PhysdevGetFreePirq, "struct physdev_get_free_pirq" {
        type_ = "type", pirq,
    });

    // ---- io/ring.h
    consts!(c, abi::ring, "" ; SRING_HEADER_SIZE = "offsetof(struct netif_tx_sring, ring)");
    layout!(c, abi::ring::SringHeader, "struct netif_tx_sring", nosize {
        req_prod, req_event, rsp_prod, rsp_event, pvt, pad = "__pad",
    });
    for (bytes, entry) in [
        (4096usize, 12usize),
        (4096, 8),
        (8192, 12),
        (65536, 16),
        (100, 8),
    ] {
        c.num(
            format!("ring_entries({bytes}, {entry})"),
            format!("__RD32((({bytes}) - 64) / {entry})"),
            abi::ring::ring_entries(bytes, entry) as u64,
        );
    }

    // ---- io/console.h
    consts!(c, abi::console, "" ;
        IN_SIZE = "sizeof(((struct xencons_interface *)0)->in)",
        OUT_SIZE = "sizeof(((struct xencons_interface *)0)->out)",
    );
    layout!(c, abi::console::XenconsInterface, "struct xencons_interface" {
        input = "in", output = "out", in_cons, in_prod, out_cons, out_prod,
    });

    // ---- io/netif.h
    consts!(c, abi::netif, "" ;
        XEN_NETIF_NR_SLOTS_MIN, XEN_NETIF_MAX_TX_SIZE,
        NETTXF_CSUM_BLANK, NETTXF_DATA_VALIDATED, NETTXF_MORE_DATA, NETTXF_EXTRA_INFO,
        NETRXF_DATA_VALIDATED, NETRXF_CSUM_BLANK, NETRXF_MORE_DATA, NETRXF_EXTRA_INFO,
        NETRXF_GSO_PREFIX,
        XEN_NETIF_EXTRA_TYPE_NONE, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
        XEN_NETIF_EXTRA_TYPE_MCAST_DEL, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_TYPE_MAX,
        XEN_NETIF_EXTRA_FLAG_MORE,
        XEN_NETIF_GSO_TYPE_NONE, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
        NETIF_RSP_DROPPED, NETIF_RSP_ERROR, NETIF_RSP_OKAY, NETIF_RSP_NULL,
        NET_TX_RING_SIZE = "__CONST_RING_SIZE(netif_tx, 4096)",
        NET_RX_RING_SIZE = "__CONST_RING_SIZE(netif_rx, 4096)",
        NET_CTRL_RING_SIZE = "__CONST_RING_SIZE(xen_netif_ctrl, 4096)",
        XEN_NETIF_CTRL_TYPE_INVALID, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
        XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
        XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
        XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
        XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
        XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING,
        XEN_NETIF_CTRL_STATUS_SUCCESS, XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED,
        XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER, XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW,
        XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
        XEN_NETIF_CTRL_HASH_TYPE_IPV4, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
        XEN_NETIF_CTRL_HASH_TYPE_IPV6, XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
    );
    layout!(c, abi::netif::NetifTxRequest, "struct netif_tx_request" {
        gref, offset, flags, id, size,
    });
    layout!(c, abi::netif::NetifTxResponse, "struct netif_tx_response" { id, status });
    layout!(c, abi::netif::NetifRxRequest, "struct netif_rx_request" { id, pad, gref });
    layout!(c, abi::netif::NetifRxResponse, "struct netif_rx_response" {
        id, offset, flags, status,
    });
    layout!(c, abi::netif::NetifExtraGso,
        "__typeof__(((struct netif_extra_info *)0)->u.gso)" {
        size, type_ = "type", pad, features,
    });
    layout!(c, abi::netif::NetifExtraMcast,
        "__typeof__(((struct netif_extra_info *)0)->u.mcast)" { addr });
    layout!(c, abi::netif::NetifExtraHash,
        "__typeof__(((struct netif_extra_info *)0)->u.hash)" {
        type_ = "type", algorithm, value,
    });
    layout!(c, abi::netif::NetifExtraInfoU,
        "__typeof__(((struct netif_extra_info *)0)->u)" { gso, mcast, hash, pad });
    layout!(c, abi::netif::NetifExtraInfo, "struct netif_extra_info" {
        type_ = "type", flags, u,
    });
    layout!(c, abi::netif::NetifTxSringEntry, "union netif_tx_sring_entry" { req, rsp });
    layout!(c, abi::netif::NetifRxSringEntry, "union netif_rx_sring_entry" { req, rsp });
    layout!(c, abi::netif::XenNetifCtrlRequest, "struct xen_netif_ctrl_request" {
        id, type_ = "type", data,
    });
    layout!(c, abi::netif::XenNetifCtrlResponse, "struct xen_netif_ctrl_response" {
        id, type_ = "type", status, data,
    });
    layout!(c, abi::netif::XenNetifCtrlSringEntry, "union xen_netif_ctrl_sring_entry" {
        req, rsp,
    });

    // ---- io/xs_wire.h
    consts!(c, abi::xs_wire, "" ;
        XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH,
        XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE,
        XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS, XS_WATCH_EVENT, XS_ERROR,
        XS_IS_DOMAIN_INTRODUCED, XS_RESUME, XS_SET_TARGET, XS_RESET_WATCHES,
        XS_DIRECTORY_PART, XS_TYPE_COUNT, XS_INVALID, XS_WATCH_PATH, XS_WATCH_TOKEN,
        XENSTORE_RING_SIZE, XENSTORE_PAYLOAD_MAX, XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX,
        XENSTORE_SERVER_FEATURE_RECONNECTION, XENSTORE_SERVER_FEATURE_ERROR,
        XENSTORE_CONNECTED, XENSTORE_RECONNECT, XENSTORE_ERROR_NONE, XENSTORE_ERROR_COMM,
        XENSTORE_ERROR_RINGIDX, XENSTORE_ERROR_PROTO,
    );
    c.str_constant(
        "abi::xs_wire::XS_WRITE_NONE",
        "XS_WRITE_NONE",
        abi::xs_wire::XS_WRITE_NONE,
    );
    c.str_constant(
        "abi::xs_wire::XS_WRITE_CREATE",
        "XS_WRITE_CREATE",
        abi::xs_wire::XS_WRITE_CREATE,
    );
    c.str_constant(
        "abi::xs_wire::XS_WRITE_CREATE_EXCL",
        "XS_WRITE_CREATE_EXCL",
        abi::xs_wire::XS_WRITE_CREATE_EXCL,
    );
    c.consts.insert("abi::xs_wire::XSD_ERRORS".into());
    c.num(
        "XSD_ERRORS.len()",
        "sizeof(xsd_errors) / sizeof(xsd_errors[0])",
        16,
    );
    for (i, (errno, name)) in abi::xs_wire::XSD_ERRORS.iter().enumerate() {
        c.num(
            format!("XSD_ERRORS[{i}].0"),
            format!("xsd_errors[{i}].errnum"),
            *errno as u64,
        );
        c.text(
            format!("XSD_ERRORS[{i}].1"),
            format!("xsd_errors[{i}].errstring"),
            name,
        );
    }
    layout!(c, abi::xs_wire::XsdSockmsg, "struct xsd_sockmsg" {
        type_ = "type", req_id, tx_id, len,
    });
    layout!(c, abi::xs_wire::XenstoreDomainInterface, "struct xenstore_domain_interface" {
        req, rsp, req_cons, req_prod, rsp_cons, rsp_prod, server_features, connection, error,
    });

    // ---- io/xenbus.h
    for s in abi::xenbus::XenbusState::ALL {
        c.num(
            format!("XenbusState::{s:?}"),
            format!("XenbusState{s:?}"),
            s as u64,
        );
    }
    c.types
        .insert(std::any::type_name::<abi::xenbus::XenbusState>().into());
    c.consts.insert("abi::xenbus::ALL".into());
    c.num(
        "sizeof XenbusState",
        "sizeof(XenbusState)",
        std::mem::size_of::<abi::xenbus::XenbusState>() as u64,
    );

    // ---- io/pciif.h
    consts!(c, abi::pciif, "" ;
        XEN_PCIF_ACTIVE, XEN_PCIB_AERHANDLER, XEN_PCIB_ACTIVE,
        XEN_PCI_OP_CONF_READ, XEN_PCI_OP_CONF_WRITE, XEN_PCI_OP_ENABLE_MSI,
        XEN_PCI_OP_DISABLE_MSI, XEN_PCI_OP_ENABLE_MSIX, XEN_PCI_OP_DISABLE_MSIX,
        XEN_PCI_OP_AER_DETECTED, XEN_PCI_OP_AER_RESUME, XEN_PCI_OP_AER_MMIO,
        XEN_PCI_OP_AER_SLOTRESET, XEN_PCI_OP_ENABLE_MULTI_MSI,
        XEN_PCI_ERR_SUCCESS, XEN_PCI_ERR_DEV_NOT_FOUND, XEN_PCI_ERR_INVALID_OFFSET,
        XEN_PCI_ERR_ACCESS_DENIED, XEN_PCI_ERR_NOT_IMPLEMENTED, XEN_PCI_ERR_OP_FAILED,
        SH_INFO_MAX_VEC,
    );
    c.str_constant(
        "abi::pciif::XEN_PCI_MAGIC",
        "XEN_PCI_MAGIC",
        abi::pciif::XEN_PCI_MAGIC,
    );
    layout!(c, abi::pciif::XenMsixEntry, "struct xen_msix_entry" { vector, entry });
    layout!(c, abi::pciif::XenPciOp, "struct xen_pci_op" {
        cmd, err, domain, bus, devfn, offset, size, value, info, msix_entries,
    });
    layout!(c, abi::pciif::XenPcieAerOp, "struct xen_pcie_aer_op" {
        cmd, err, domain, bus, devfn,
    });
    layout!(c, abi::pciif::XenPciSharedinfo, "struct xen_pci_sharedinfo" { flags, op, aer_op });

    c
}

fn c_prelude() -> String {
    let mut p = String::new();
    p.push_str("#define __XEN_INTERFACE_VERSION__ 0x00040e00\n");
    p.push_str(
        "#include <stdint.h>\n#include <stddef.h>\n#include <stdio.h>\n#include <errno.h>\n",
    );
    for h in HEADERS {
        let _ = writeln!(p, "#include <xen/{h}>");
    }
    p
}

fn c_program(checks: &Checks) -> String {
    let mut p = c_prelude();
    p.push_str("int main(void) {\n");
    for (i, ch) in checks.list.iter().enumerate() {
        match ch.rust {
            Val::Num(_) => {
                let _ = writeln!(
                    p,
                    "    printf(\"{i} %llu\\n\", (unsigned long long)({}));",
                    ch.c_expr
                );
            }
            Val::Str(_) => {
                let _ = writeln!(p, "    printf(\"{i} %s\\n\", {});", ch.c_expr);
            }
        }
    }
    p.push_str("    return 0;\n}\n");
    p
}

/// Runs the C compiler on `src` with `args`; with `exe`, links and runs the program.
/// Returns the compiler's stdout (`-E`) or the program's.
fn run_cc(src: &str, args: &[&str], name: &str, exe: bool) -> String {
    let dir: PathBuf = std::env::temp_dir().join(format!("xen-abi-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c_path = dir.join(name);
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&c_path, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=gnu11", "-O0", "-w"]).args(args);
    if exe {
        cmd.arg("-o").arg(&bin);
    }
    let out = cmd
        .arg(&c_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}` ({e}): apt-get install gcc"));
    assert!(
        out.status.success(),
        "compiling {} failed:\n{}",
        c_path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = if exe {
        let run = Command::new(&bin).output().expect("run the layout program");
        assert!(run.status.success(), "layout program failed");
        run.stdout
    } else {
        out.stdout
    };
    let _ = std::fs::remove_file(&c_path);
    let _ = std::fs::remove_file(&bin);
    String::from_utf8(stdout).expect("utf-8 output")
}

/// `(module path, constant names, repr(C) type names)` declared in `src/abi`.
fn scan_rust_sources() -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/abi");
    let mut consts = BTreeSet::new();
    let mut types = BTreeSet::new();
    for ent in std::fs::read_dir(&dir).unwrap() {
        let path = ent.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let module = if stem == "mod" {
            "abi".to_string()
        } else {
            format!("abi::{stem}")
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut inner: Option<String> = None;
        let mut repr_c = false;
        let mut in_tests = false;
        for line in text.lines() {
            if line.starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests {
                continue;
            }
            let t = line.trim_start();
            if line.starts_with("pub mod ") && line.ends_with('{') {
                inner = Some(line["pub mod ".len()..line.len() - 1].trim().to_string());
                continue;
            }
            if line == "}" {
                inner = None;
            }
            let m = match &inner {
                Some(i) => format!("{module}::{i}"),
                None => module.clone(),
            };
            if let Some(rest) = t.strip_prefix("pub const ") {
                if !rest.starts_with("fn ") {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    consts.insert(format!("{m}::{name}"));
                }
            }
            if t.starts_with("#[repr(C)]") {
                repr_c = true;
                continue;
            }
            if repr_c {
                if t.starts_with("#[") {
                    continue;
                }
                let rest = t
                    .strip_prefix("pub struct ")
                    .or_else(|| t.strip_prefix("pub union "));
                if let Some(rest) = rest {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    types.insert(format!("xen::{m}::{name}"));
                }
                repr_c = false;
            }
        }
    }
    (consts, types)
}

#[test]
fn abi_matches_xen_headers() {
    if !Path::new(XEN_INCLUDE).join("io/xs_wire.h").exists() {
        panic!(
            "Xen public headers not found under {XEN_INCLUDE}: apt-get install libxen-dev \
             (the project's setup installs it)"
        );
    }
    let checks = all_checks();
    let out = run_cc(&c_program(&checks), &[], "layout.c", true);
    let _ = std::fs::remove_dir(
        std::env::temp_dir().join(format!("xen-abi-layout-{}", std::process::id())),
    );
    let mut got: BTreeMap<usize, &str> = BTreeMap::new();
    for line in out.lines() {
        let (i, v) = line.split_once(' ').unwrap_or((line, ""));
        got.insert(i.parse().unwrap(), v);
    }
    let mut bad = Vec::new();
    for (i, ch) in checks.list.iter().enumerate() {
        let c = got.get(&i).copied().unwrap_or("<missing>");
        let ok = match &ch.rust {
            Val::Num(v) => c.parse::<u64>().ok() == Some(*v),
            Val::Str(s) => c == s,
        };
        if !ok {
            let r = match &ch.rust {
                Val::Num(v) => format!("{v} ({v:#x})"),
                Val::Str(s) => format!("{s:?}"),
            };
            bad.push(format!("{}: Rust {r}, C `{}` = {c}", ch.what, ch.c_expr));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // Everything declared must be checked.
    let (decl_consts, decl_types) = scan_rust_sources();
    let unchecked: Vec<_> = decl_consts.difference(&checks.consts).collect();
    assert!(
        unchecked.is_empty(),
        "constants without a C check: {unchecked:?}"
    );
    let unchecked: Vec<_> = decl_types.difference(&checks.types).collect();
    assert!(
        unchecked.is_empty(),
        "repr(C) types without a layout check: {unchecked:?}"
    );
    assert!(checks.list.len() > 500, "only {} checks", checks.list.len());
}
