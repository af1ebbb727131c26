//! `struct xencons_interface` (`io/console.h`): the PV console ring page.

/// Size of the input (dom0 to guest) ring.
pub const IN_SIZE: usize = 1024;
/// Size of the output (guest to dom0) ring.
pub const OUT_SIZE: usize = 2048;

/// The console ring page layout. Indices are free-running `u32`s masked by the ring size.
#[repr(C)]
pub struct XenconsInterface {
    pub input: [u8; IN_SIZE],
    pub output: [u8; OUT_SIZE],
    pub in_cons: u32,
    pub in_prod: u32,
    pub out_cons: u32,
    pub out_prod: u32,
}
