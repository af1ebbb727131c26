//! Per-vif counters: packets and bytes each way, drops and errors by reason, fatal
//! errors (the vif was disconnected) by reason, and xenbus state changes.

use core::fmt;

macro_rules! reasons {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v,)* }
        impl $name {
            /// Every reason, in counter-index order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// Number of reasons.
            pub const COUNT: usize = $name::ALL.len();
            /// Short stable name (used in logs and docs).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

reasons! {
    /// Why a guest TX packet was refused (answered `NETIF_RSP_ERROR`) or dropped later.
    TxDrop {
        /// First slot's total size below an Ethernet header (14 bytes).
        TooSmall = "tx-too-small",
        /// A data slot of zero bytes.
        ZeroSlot = "tx-zero-slot",
        /// `offset + size` of a slot beyond the page.
        CrossesPage = "tx-crosses-page",
        /// The following slots add up to more than (or all of) the first slot's total.
        SizeMismatch = "tx-size-mismatch",
        /// An extra info segment of an unknown type or repeated type.
        BadExtra = "tx-bad-extra",
        /// A GSO extra info segment although no `feature-gso-*` is advertised.
        GsoNotNegotiated = "tx-gso-not-negotiated",
        /// The grant copy of a slot failed (bad gref, wrong domain, ...).
        CopyFailed = "tx-copy-failed",
        /// `csum_blank` on a packet whose checksum could not be located (not TCP/UDP
        /// over IPv4/IPv6, or truncated headers).
        BadCsumPacket = "tx-bad-csum-packet",
        /// A multicast control packet (accepted, answered OKAY, not forwarded).
        McastControl = "tx-mcast-control",
        /// Source MAC not the one configured for the vif (switch anti-spoofing).
        Spoofed = "tx-spoofed-src",
        /// The switch found no port for it (or only the source port).
        NoRoute = "tx-no-route",
    }
}

reasons! {
    /// Why a frame for the guest was not delivered.
    RxDrop {
        /// The vif's queue was full (drop-tail).
        QueueFull = "rx-queue-full",
        /// The vif is not connected.
        NotConnected = "rx-not-connected",
        /// Larger than one page and the frontend has no `feature-sg`, or larger than the
        /// frontend's ring could ever hold.
        TooBig = "rx-too-big",
        /// A grant copy into the guest's buffer failed (bad gref, read-only grant, ...).
        CopyFailed = "rx-copy-failed",
        /// The vif disconnected with the frame still queued.
        Flushed = "rx-flushed",
    }
}

reasons! {
    /// Errors that disconnect the vif (the frontend broke the protocol, or setup failed).
    Fatal {
        /// `req_prod` on the TX ring impossible (jumped more than the ring size, or back).
        TxRingCorrupt = "tx-ring-corrupt",
        /// `req_prod` on the RX ring impossible.
        RxRingCorrupt = "rx-ring-corrupt",
        /// A packet of more than `XEN_NETIF_NR_SLOTS_MIN` (18) slots.
        TooManySlots = "tx-too-many-slots",
        /// A packet (or its extra info chain) ends at `req_prod` with `more_data`/`MORE`
        /// still set.
        TruncatedPacket = "tx-truncated-packet",
        /// More extra info segments than there are types.
        TooManyExtras = "tx-too-many-extras",
        /// A xenstore key needed to connect is missing or malformed.
        BadXenstore = "bad-xenstore-value",
        /// The frontend did not write `request-rx-copy=1`.
        NoRxCopy = "no-request-rx-copy",
        /// Mapping a ring page failed.
        MapFailed = "ring-map-failed",
        /// The mapped page is unusable as a ring.
        BadRing = "bad-ring-page",
        /// Binding the event channel failed.
        BindFailed = "evtchn-bind-failed",
    }
}

/// Counters of one vif (kept across reconnections, while the backend directory exists).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VifCounters {
    /// Guest TX packets accepted (copied, answered OKAY).
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Guest TX slots answered (all statuses, extra info included).
    pub tx_slots: u64,
    /// Frames delivered into the guest's RX buffers.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames queued for the guest.
    pub rx_queued: u64,
    pub tx_drops: [u64; TxDrop::COUNT],
    pub rx_drops: [u64; RxDrop::COUNT],
    pub fatal: [u64; Fatal::COUNT],
    /// xenbus state changes we published.
    pub state_changes: u64,
    pub connects: u64,
    pub disconnects: u64,
    /// Notifications we sent to the frontend.
    pub notifies: u64,
    /// Checksums filled in for `csum_blank` packets.
    pub csum_filled: u64,
    /// RX packets delivered as GSO packets (runs of segments merged, `gro`).
    pub rx_gso_packets: u64,
}

impl VifCounters {
    pub fn tx_drop(&self, r: TxDrop) -> u64 {
        self.tx_drops[r as usize]
    }
    pub fn rx_drop(&self, r: RxDrop) -> u64 {
        self.rx_drops[r as usize]
    }
    pub fn fatal(&self, r: Fatal) -> u64 {
        self.fatal[r as usize]
    }
    pub(crate) fn count_tx_drop(&mut self, r: TxDrop) {
        self.tx_drops[r as usize] += 1;
    }
    pub(crate) fn count_rx_drop(&mut self, r: RxDrop) {
        self.rx_drops[r as usize] += 1;
    }
    pub(crate) fn count_fatal(&mut self, r: Fatal) {
        self.fatal[r as usize] += 1;
    }
    /// All TX drops.
    pub fn tx_drops_total(&self) -> u64 {
        self.tx_drops.iter().sum()
    }
    /// All RX drops.
    pub fn rx_drops_total(&self) -> u64 {
        self.rx_drops.iter().sum()
    }
    /// All fatal errors.
    pub fn fatal_total(&self) -> u64 {
        self.fatal.iter().sum()
    }
}

impl fmt::Display for VifCounters {
    /// One line: the non-zero counters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tx {} pkts {} B, rx {} pkts {} B, state changes {}, connects {}, disconnects {}",
            self.tx_packets,
            self.tx_bytes,
            self.rx_packets,
            self.rx_bytes,
            self.state_changes,
            self.connects,
            self.disconnects
        )?;
        for r in TxDrop::ALL {
            if self.tx_drop(*r) > 0 {
                write!(f, ", {} {}", r, self.tx_drop(*r))?;
            }
        }
        for r in RxDrop::ALL {
            if self.rx_drop(*r) > 0 {
                write!(f, ", {} {}", r, self.rx_drop(*r))?;
            }
        }
        for r in Fatal::ALL {
            if self.fatal(*r) > 0 {
                write!(f, ", {} {}", r, self.fatal(*r))?;
            }
        }
        Ok(())
    }
}
