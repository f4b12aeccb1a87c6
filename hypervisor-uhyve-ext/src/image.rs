//! Hermit images: parsing and loading into guest RAM exactly as uhyve 0.10 does, plus the
//! initial machine state uhyve sets up (GDT, identity page tables, device tree, boot info).
//!
//! Guest-physical layout (offsets from the RAM base `G`, the same as uhyve's x86-64 layout so
//! that images see identical boot conditions):
//!
//! ```text
//!  G + 0x0      GDT (3 entries)
//!  G + 0x1000   device tree (at most 16 KiB)
//!  G + 0x5000   RawBootInfo
//!  G + 0x10000  PML4, then PDPT/PD pages from G + 0x11000
//!  G + 0x38000  boot stack (32 KiB, rsp starts at its bottom as in uhyve)
//!  G + 0x40000  the image (static PIE, relocated here)
//! ```
//! `G` is 4 GiB (uhyve's interface v2/v3 window without ASLR).

use std::mem::MaybeUninit;
use std::num::{NonZeroU32, NonZeroU64};
use std::time::SystemTime;

use hermit_entry::boot_info::{BootInfo, HardwareInfo, LoadInfo, PlatformInfo, RawBootInfo};
use hermit_entry::elf::KernelObject;

use crate::config::MIN_MEMORY;
use crate::memory::GuestRam;

/// Guest RAM base.
pub const RAM_BASE: u64 = 0x1_0000_0000;
/// Offsets of the boot structures from the RAM base.
pub const GDT_OFFSET: u64 = 0x0;
/// Device tree.
pub const FDT_OFFSET: u64 = 0x1000;
/// Device tree size limit.
pub const FDT_MAX: usize = 0x4000;
/// Boot info.
pub const BOOT_INFO_OFFSET: u64 = 0x5000;
/// PML4.
pub const PML4_OFFSET: u64 = 0x10000;
/// Page-table pool.
pub const PT_POOL_OFFSET: u64 = 0x11000;
/// End of the page-table pool.
pub const PT_POOL_END: u64 = 0x38000;
/// The image.
pub const KERNEL_OFFSET: u64 = 0x40000;
/// Largest image (bytes loaded) accepted; keeps the boot page tables within their pool.
pub const MAX_IMAGE: u64 = 4 * 1024 * 1024 * 1024;

/// Why an image cannot be booted.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading the file failed.
    #[error("cannot read image {path}: {source}")]
    Read {
        /// The image path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not an ELF file at all: the wrong kind of file (a usage error).
    #[error("{0} is not a bootable Hermit image: {1}")]
    NotElf(String, String),
    /// An ELF file that is truncated, corrupted or not a Hermit image; the message names the
    /// structure that is wrong (see `elf_check.rs`).
    #[error("{0} is not a bootable Hermit image: {1}")]
    Malformed(String, String),
    /// Interface version we do not speak.
    #[error("{0} speaks uhyve interface {1}; this hypervisor speaks 2 and 3")]
    Interface(String, String),
    /// Too little guest memory.
    #[error("guest memory of {memory} bytes is too small for this image ({needed} bytes needed)")]
    TooSmall {
        /// Configured memory.
        memory: u64,
        /// What the image needs at least.
        needed: u64,
    },
    /// The device tree does not fit.
    #[error("arguments and environment are too large: the device tree would be {0} bytes (limit 16 KiB)")]
    DeviceTree(usize),
}

/// What an image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// A plain program (a Rust std program on libos): args and exit status are its own.
    Program,
    /// The JS runtime with no function: it asks the host for one (`--runtime`).
    Runtime,
    /// The JS runtime with a function built in (`cargo xtask build-image fn.js`).
    Function,
}

/// A parsed image file, ready to be loaded into any number of VMs.
pub struct Image {
    name: String,
    bytes: AlignedBytes,
    mem_size: u64,
}

/// Image bytes in an 8-byte-aligned buffer: the loader views ELF structures in place and
/// refuses (panics on) misaligned ones, so alignment must not depend on the allocator.
struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self { words, len: bytes.len() }
    }

    fn as_slice(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }
}

impl Image {
    /// Reads and validates an image file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ImageError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ImageError::Read { path: name.clone(), source })?;
        Self::from_bytes(name, bytes)
    }

    /// Validates image bytes (`name` is used in messages): the ELF structure first, by our own
    /// bounds-checked walk (`elf_check.rs`), then hermit-entry's parser.
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<Self, ImageError> {
        if hermit_entry::detect_format(&bytes) != Some(hermit_entry::Format::Elf) {
            return Err(ImageError::NotElf(name, "not an ELF file (build images with `cargo xtask build-image`)".into()));
        }
        let bytes = AlignedBytes::new(&bytes);
        let checked = crate::elf_check::check(bytes.as_slice(), RAM_BASE + KERNEL_OFFSET)
            .map_err(|reason| ImageError::Malformed(name.clone(), reason))?;
        let (mem_size, iface) = guarded(&name, || {
            let object = KernelObject::parse(bytes.as_slice()).map_err(|e| e.to_string())?;
            Ok((object.mem_size() as u64, object.uhyve_interface_version()))
        })?;
        if mem_size != checked.mem_size {
            return Err(ImageError::Malformed(name, format!("the loader sizes it at {mem_size} bytes, the check at {}", checked.mem_size)));
        }
        if mem_size > MAX_IMAGE {
            return Err(ImageError::Malformed(name, format!("it needs {mem_size} bytes of memory, more than {MAX_IMAGE}")));
        }
        match iface.map(|v| v.0) {
            Some(2 | 3) => {}
            Some(v) => return Err(ImageError::Interface(name, v.to_string())),
            None => return Err(ImageError::Interface(name, "1 (no interface note)".into())),
        }
        Ok(Self { name, bytes, mem_size })
    }

    /// What the image holds, as its JS payload region tells (see [`ImageKind`]).
    pub fn kind(&self) -> ImageKind {
        let magic = &seuss_abi::payload::MAGIC;
        let bytes = self.bytes.as_slice();
        let Some(at) = bytes.windows(magic.len()).position(|w| w == magic) else {
            return ImageKind::Program;
        };
        let header = bytes.get(at..at + seuss_abi::payload::HEADER_SIZE).and_then(|h| h.try_into().ok());
        match header.and_then(seuss_abi::payload::source_len) {
            Some(_) => ImageKind::Function,
            None => ImageKind::Runtime,
        }
    }

    /// The name used in messages (the path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes the image occupies once loaded.
    pub fn mem_size(&self) -> u64 {
        self.mem_size
    }
}

thread_local! {
    /// Set while hermit-entry runs on this thread: its panics are expected and reported as
    /// errors, so the panic hook stays quiet for them (and only for them).
    static IN_LOADER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once, process-wide) a panic hook that is silent inside [`guarded`] and delegates
/// to the previous hook everywhere else. Swapping the hook per call would race between threads.
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_LOADER.with(|f| f.get()) {
                previous(info);
            }
        }));
    });
}

/// Runs hermit-entry's parser/loader, turning its panics into errors. `elf_check` refuses
/// every input known to make it panic first; this is the last guard, and its message keeps the
/// loader's internal text out of the user's view (it is logged at debug level).
fn guarded<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, ImageError> {
    install_quiet_hook();
    IN_LOADER.with(|flag| flag.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_LOADER.with(|flag| flag.set(false));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ImageError::Malformed(name.into(), e)),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "no message".into());
            tracing::debug!(image = name, panic = %msg, "hermit-entry panicked on an image that passed the ELF check");
            Err(ImageError::Malformed(name.into(), "the Hermit loader found an inconsistency in its ELF structures".into()))
        }
    }
}

/// What the boot needs from the caller.
pub struct BootParams<'a> {
    /// Arguments for the program (after uhyve's `--`).
    pub args: &'a [String],
    /// Environment as (key, value).
    pub env: &'a [(String, String)],
    /// TSC frequency to announce.
    pub tsc_khz: Option<u32>,
    /// Announce our invocation channel (`/chosen/seuss,abi`).
    pub seuss_channel: bool,
    /// Announce our user-mode network (`/chosen/seuss,net`).
    pub seuss_net: bool,
}

/// Where the vCPU starts.
pub struct EntryState {
    /// Entry point.
    pub rip: u64,
    /// Boot info address (rdi).
    pub boot_info: u64,
    /// Initial stack pointer.
    pub rsp: u64,
    /// PML4 address.
    pub cr3: u64,
    /// GDT base.
    pub gdt: u64,
}

/// Writes raw machine code at the image address, with uhyve's GDT and identity page tables but
/// no boot info or device tree: the tiny hand-assembled guests of the unit tests run there at
/// CPL0 with `rsp` below the code.
#[cfg(test)]
pub(crate) fn load_raw(code: &[u8], ram: &mut GuestRam) -> EntryState {
    let g = ram.base();
    ram.slice_mut(g + KERNEL_OFFSET, code.len() as u64).expect("code inside RAM").copy_from_slice(code);
    write_gdt(ram);
    write_page_tables(ram, g + ram.size() - 1);
    EntryState { rip: g + KERNEL_OFFSET, boot_info: 0, rsp: g + KERNEL_OFFSET - 16, cr3: g + PML4_OFFSET, gdt: g + GDT_OFFSET }
}

/// Loads `image` into `ram` and writes the boot structures; returns where the vCPU starts.
pub fn load(image: &Image, ram: &mut GuestRam, params: &BootParams<'_>) -> Result<EntryState, ImageError> {
    let g = ram.base();
    let k = g + KERNEL_OFFSET;
    let needed = KERNEL_OFFSET + image.mem_size + 4 * 1024 * 1024;
    if ram.size() < needed.max(MIN_MEMORY) {
        return Err(ImageError::TooSmall { memory: ram.size(), needed: needed.max(MIN_MEMORY) });
    }
    let mem_size = image.mem_size as usize;
    let loaded = guarded(&image.name, || {
        let object = KernelObject::parse(image.bytes.as_slice()).map_err(|e| e.to_string())?;
        let all = ram.all_mut();
        let dst = &mut all[KERNEL_OFFSET as usize..KERNEL_OFFSET as usize + mem_size];
        // SAFETY: u8 and MaybeUninit<u8> have the same layout; the loader only writes.
        let dst: &mut [MaybeUninit<u8>] = unsafe { &mut *(dst as *mut [u8] as *mut [MaybeUninit<u8>]) };
        Ok(object.load_kernel(dst, k))
    })?;
    let kernel_end = k + image.mem_size;

    write_gdt(ram);
    write_page_tables(ram, kernel_end);
    let fdt = device_tree(ram, params)?;
    ram.slice_mut(g + FDT_OFFSET, fdt.len() as u64).expect("FDT area inside RAM").copy_from_slice(&fdt);
    write_boot_info(ram, loaded.load_info, params.tsc_khz);
    Ok(EntryState {
        rip: loaded.entry_point,
        boot_info: g + BOOT_INFO_OFFSET,
        rsp: k - 0x8000,
        cr3: g + PML4_OFFSET,
        gdt: g + GDT_OFFSET,
    })
}

fn gdt_entry(flags: u64, base: u64, limit: u64) -> u64 {
    ((base & 0xff00_0000) << 32)
        | ((flags & 0x0000_f0ff) << 40)
        | ((limit & 0x000f_0000) << 32)
        | ((base & 0x00ff_ffff) << 16)
        | (limit & 0x0000_ffff)
}

fn write_gdt(ram: &mut GuestRam) {
    let gdt: [u64; 3] = [0, gdt_entry(0xA09B, 0, 0xFFFFF), gdt_entry(0xC093, 0, 0xFFFFF)];
    ram.write(ram.base() + GDT_OFFSET, &gdt).expect("GDT inside RAM");
}

/// Identity-maps `[G, kernel_end]` with 2 MiB pages (present, writable), as uhyve does.
fn write_page_tables(ram: &mut GuestRam, kernel_end: u64) {
    const P_W: u64 = 0b11;
    const HUGE: u64 = 1 << 7;
    let g = ram.base();
    let pml4 = g + PML4_OFFSET;
    let mut next = g + PT_POOL_OFFSET;
    let mut alloc = || {
        let a = next;
        next += 4096;
        assert!(next <= g + PT_POOL_END, "page-table pool exhausted");
        a
    };
    let mut addr = g;
    while addr <= kernel_end {
        let pml4e = pml4 + ((addr >> 39) & 511) * 8;
        let mut e: u64 = ram.read(pml4e).expect("in RAM");
        if e == 0 {
            e = alloc() | P_W;
            ram.write(pml4e, &e).expect("in RAM");
        }
        let pdpte = (e & !0xfff) + ((addr >> 30) & 511) * 8;
        let mut e: u64 = ram.read(pdpte).expect("in RAM");
        if e == 0 {
            e = alloc() | P_W;
            ram.write(pdpte, &e).expect("in RAM");
        }
        let pde = (e & !0xfff) + ((addr >> 21) & 511) * 8;
        ram.write(pde, &(addr | P_W | HUGE)).expect("in RAM");
        addr += 2 * 1024 * 1024;
    }
}

/// POSIX shell quoting for `env=` words (what uhyve does with `shell_words::quote`).
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

fn device_tree(ram: &GuestRam, p: &BootParams<'_>) -> Result<Vec<u8>, ImageError> {
    let build = || -> Result<Vec<u8>, vm_fdt::Error> {
        let mut w = vm_fdt::FdtWriter::new()?;
        let root = w.begin_node("")?;
        w.property_string("compatible", "hermit,uhyve")?;
        w.property_u32("#address-cells", 2)?;
        w.property_u32("#size-cells", 2)?;
        let mem = w.begin_node(&format!("memory@{:x}", ram.base()))?;
        w.property_string("device_type", "memory")?;
        w.property_array_u64("reg", &[ram.base(), ram.size()])?;
        w.end_node(mem)?;
        if let Some(khz) = p.tsc_khz {
            let tsc = w.begin_node("hermit,tsc")?;
            w.property_u32("khz", khz)?;
            w.end_node(tsc)?;
        }
        let mut bootargs: Vec<String> =
            p.env.iter().map(|(k, v)| format!("env={}={}", shell_quote(k), shell_quote(v))).collect();
        if !p.args.is_empty() {
            bootargs.push("--".into());
            bootargs.extend(p.args.iter().cloned());
        }
        let chosen = w.begin_node("chosen")?;
        w.property_string("bootargs", &bootargs.join(" "))?;
        if p.seuss_channel {
            w.property_u32(seuss_abi::FDT_PROPERTY, seuss_abi::ABI_VERSION)?;
        }
        if p.seuss_net {
            w.property_null(seuss_abi::net::FDT_PROPERTY)?;
        }
        w.end_node(chosen)?;
        w.end_node(root)?;
        w.finish()
    };
    let fdt = build().map_err(|e| ImageError::Malformed("device tree".into(), e.to_string()))?;
    if fdt.len() > FDT_MAX {
        return Err(ImageError::DeviceTree(fdt.len()));
    }
    Ok(fdt)
}

fn write_boot_info(ram: &mut GuestRam, load_info: LoadInfo, tsc_khz: Option<u32>) {
    let g = ram.base();
    let info = BootInfo {
        hardware_info: HardwareInfo {
            phys_addr_range: g..ram.end(),
            serial_port_base: std::num::NonZeroU16::new(uhyve_interface::v2::HypercallAddress::SerialWriteBuffer as u16),
            device_tree: NonZeroU64::new(g + FDT_OFFSET),
        },
        load_info,
        platform_info: PlatformInfo::Uhyve {
            has_pci: false,
            num_cpus: NonZeroU64::new(1).expect("1 is not 0"),
            cpu_freq: tsc_khz.and_then(NonZeroU32::new),
            boot_time: SystemTime::now().into(),
        },
    };
    ram.write_boot_struct(g + BOOT_INFO_OFFSET, &RawBootInfo::from(info)).expect("boot info inside RAM");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_an_image() {
        let e = Image::from_bytes("junk".into(), b"definitely not an ELF file".to_vec()).err().unwrap();
        assert!(e.to_string().contains("junk is not a bootable Hermit image"), "{e}");
    }

    #[test]
    fn truncated_elf_is_refused_without_panic() {
        let mut bytes = b"\x7fELF\x02\x01\x01\xff".to_vec();
        bytes.resize(80, 0);
        assert!(matches!(Image::from_bytes("t".into(), bytes), Err(ImageError::Malformed(..))));
    }

    #[test]
    fn shell_quoting_matches_posix() {
        assert_eq!(shell_quote("abc/1"), "abc/1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
