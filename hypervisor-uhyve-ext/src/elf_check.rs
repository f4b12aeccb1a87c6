//! Validation of an image's ELF structure before `hermit-entry` sees it.
//!
//! `hermit-entry`'s loader trusts its input: it slices the file at the offsets the headers
//! name, unwraps alignment checks and asserts on relocations, so a truncated or corrupted image
//! makes it panic with internal text ("range start index ... out of range"). [`check`] walks
//! every structure the loader touches, in the order it touches them, with checked arithmetic,
//! and names the first problem instead:
//!
//! ```text
//!  ELF header      class 64, little endian, x86-64, ET_DYN (or ET_EXEC at our load address)
//!  program headers inside the file, 8-aligned, 56 bytes each
//!  section headers inside the file, 8-aligned, 64 bytes each
//!  PT_LOAD         file bytes inside the file, filesz <= memsz, sorted, not overlapping,
//!                  each inside the loaded image [first vaddr, last vaddr + memsz)
//!  PT_NOTE (first) inside the file, alignment a power of two; every note's name and
//!                  descriptor inside the segment; the entry-version note has a descriptor
//!  PT_DYNAMIC      inside the file, 8-aligned; no DT_RELCOUNT; DT_RELA/DT_RELASZ inside
//!                  the file, 8-aligned
//!  .dynsym         inside the file, 8-aligned
//!  relocations     R_X86_64_64, _GLOB_DAT (addend 0) or _RELATIVE; target inside the image;
//!                  symbol index inside .dynsym; no arithmetic overflow; a weak undefined
//!                  symbol's target is zero when the loader looks at it
//!  entry point     inside the loaded image
//! ```
//!
//! Everything is read with explicit little-endian decoding from byte offsets, so the check
//! itself cannot panic on any input (a property the image-mutation fuzzer of `cargo xtask
//! fuzz` exercises).

use std::collections::BTreeSet;

/// Sizes and constants of the ELF64 format (System V gABI, x86-64 psABI).
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: u64 = 56;
const SHDR_SIZE: u64 = 64;
const DYN_SIZE: u64 = 16;
const RELA_SIZE: u64 = 24;
const SYM_SIZE: u64 = 24;
const NHDR_SIZE: usize = 12;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_NOTE: u32 = 4;
const PT_TLS: u32 = 7;
const SHT_DYNSYM: u32 = 11;
const DT_NEEDED: u64 = 1;
const DT_RELA: u64 = 7;
const DT_RELASZ: u64 = 8;
const DT_RELCOUNT: u64 = 0x6fff_fffa;
const R_X86_64_64: u32 = 1;
const R_X86_64_GLOB_DAT: u32 = 6;
const R_X86_64_RELATIVE: u32 = 8;
const STB_WEAK: u8 = 2;
/// The note `hermit-entry` requires (name "HERMIT", type 0x5a00: the entry version).
const HERMIT_NOTE_NAME: &str = "HERMIT";
const NT_HERMIT_ENTRY_VERSION: u32 = 0x5a00;

/// What the checked image needs once loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Bytes the image occupies in guest memory (first PT_LOAD's start to last one's end).
    pub mem_size: u64,
}

fn u16_at(b: &[u8], off: u64) -> Option<u16> {
    let off = usize::try_from(off).ok()?;
    Some(u16::from_le_bytes(b.get(off..off.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: u64) -> Option<u32> {
    let off = usize::try_from(off).ok()?;
    Some(u32::from_le_bytes(b.get(off..off.checked_add(4)?)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: u64) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    Some(u64::from_le_bytes(b.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

/// `[off, off + len)` lies inside a file of `file_len` bytes.
fn inside(off: u64, len: u64, file_len: u64) -> bool {
    off.checked_add(len).is_some_and(|end| end <= file_len)
}

/// `x` rounded up to `align` (a power of two); `None` on overflow.
fn align_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// One program header (the fields the loader reads).
#[derive(Clone, Copy, Debug)]
struct Phdr {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

/// Validates `bytes` as an image `hermit-entry` can parse and load without panicking;
/// `exec_base` is where a non-relocatable (ET_EXEC) image would have to start. `Err` names the
/// first problem, for "IMAGE is not a bootable Hermit image: <reason>".
pub(crate) fn check(bytes: &[u8], exec_base: u64) -> Result<Checked, String> {
    let len = bytes.len() as u64;
    if bytes.len() < EHDR_SIZE {
        return Err(format!("the file has {len} bytes, fewer than the 64 of an ELF header (truncated?)"));
    }
    if bytes[..4] != *b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bytes[4] != 2 {
        return Err(format!("ELF class {} is not 64-bit", bytes[4]));
    }
    if bytes[5] != 1 {
        return Err("the ELF file is not little endian".into());
    }
    let field = |what: &str| format!("the ELF header's {what} cannot be read");
    let e_type = u16_at(bytes, 16).ok_or_else(|| field("type"))?;
    let e_machine = u16_at(bytes, 18).ok_or_else(|| field("machine"))?;
    let e_entry = u64_at(bytes, 24).ok_or_else(|| field("entry"))?;
    let e_phoff = u64_at(bytes, 32).ok_or_else(|| field("program header offset"))?;
    let e_shoff = u64_at(bytes, 40).ok_or_else(|| field("section header offset"))?;
    let e_phentsize = u16_at(bytes, 54).ok_or_else(|| field("program header size"))?;
    let e_phnum = u16_at(bytes, 56).ok_or_else(|| field("program header count"))?;
    let e_shentsize = u16_at(bytes, 58).ok_or_else(|| field("section header size"))?;
    let e_shnum = u16_at(bytes, 60).ok_or_else(|| field("section header count"))?;
    if e_type != ET_DYN && e_type != ET_EXEC {
        return Err(format!("ELF type {e_type} is neither an executable nor position-independent"));
    }
    if e_machine != EM_X86_64 {
        return Err(format!("ELF machine {e_machine} is not x86-64"));
    }

    // Program headers.
    if u64::from(e_phentsize) != PHDR_SIZE {
        return Err(format!("program headers are {e_phentsize} bytes each, not {PHDR_SIZE}"));
    }
    if e_phnum == 0 {
        return Err("the ELF file has no program headers".into());
    }
    let ph_table = u64::from(e_phnum) * PHDR_SIZE;
    if !inside(e_phoff, ph_table, len) {
        return Err(format!(
            "the program header table ({e_phnum} entries at offset {e_phoff:#x}) extends past the end of the file of {len} bytes (truncated?)"
        ));
    }
    if !e_phoff.is_multiple_of(8) {
        return Err(format!("the program header table at offset {e_phoff:#x} is not 8-byte aligned"));
    }
    let phdrs: Vec<Phdr> = (0..u64::from(e_phnum))
        .map(|i| {
            let at = e_phoff + i * PHDR_SIZE;
            // In bounds: the table was checked above.
            Phdr {
                p_type: u32_at(bytes, at).unwrap_or(0),
                offset: u64_at(bytes, at + 8).unwrap_or(0),
                vaddr: u64_at(bytes, at + 16).unwrap_or(0),
                filesz: u64_at(bytes, at + 32).unwrap_or(0),
                memsz: u64_at(bytes, at + 40).unwrap_or(0),
                align: u64_at(bytes, at + 48).unwrap_or(0),
            }
        })
        .collect();

    // Section headers (the loader slices the table even when it is empty).
    if e_shoff > len || (e_shnum > 0 && !inside(e_shoff, u64::from(e_shnum) * SHDR_SIZE, len)) {
        return Err(format!(
            "the section header table ({e_shnum} entries at offset {e_shoff:#x}) extends past the end of the file of {len} bytes (truncated?)"
        ));
    }
    if !e_shoff.is_multiple_of(8) {
        return Err(format!("the section header table at offset {e_shoff:#x} is not 8-byte aligned"));
    }
    if e_shnum > 0 && u64::from(e_shentsize) != SHDR_SIZE {
        return Err(format!("section headers are {e_shentsize} bytes each, not {SHDR_SIZE}"));
    }

    // Loadable segments: they define the image's extent.
    let loads: Vec<(usize, Phdr)> = phdrs.iter().copied().enumerate().filter(|(_, p)| p.p_type == PT_LOAD).collect();
    let (Some(&(_, first)), Some(&(_, last))) = (loads.first(), loads.last()) else {
        return Err("the ELF file has no loadable segment".into());
    };
    let mut prev_end = None::<u64>;
    for &(i, p) in &loads {
        if !inside(p.offset, p.filesz, len) {
            return Err(format!(
                "segment {i} (PT_LOAD, {:#x} bytes at file offset {:#x}) extends past the end of the file of {len} bytes (truncated?)",
                p.filesz, p.offset
            ));
        }
        if p.filesz > p.memsz {
            return Err(format!("segment {i} has more file bytes ({:#x}) than memory bytes ({:#x})", p.filesz, p.memsz));
        }
        let end = p.vaddr.checked_add(p.memsz).ok_or_else(|| format!("segment {i}'s address range overflows"))?;
        if prev_end.is_some_and(|e| p.vaddr < e) {
            return Err(format!("segment {i} (at {:#x}) overlaps or precedes the loadable segment before it", p.vaddr));
        }
        prev_end = Some(end);
    }
    let image_end = last.vaddr + last.memsz; // checked in the loop
    let mem_size = image_end - first.vaddr; // sorted: last ends after first starts
    if mem_size == 0 {
        return Err("the loadable segments are empty".into());
    }
    // Where the loader places segment bytes: at vaddr - load_start inside the image.
    let relocatable = e_type == ET_DYN;
    let load_start = if relocatable { 0 } else { first.vaddr };
    if !relocatable && first.vaddr != exec_base {
        return Err(format!(
            "it is not position-independent and must load at {:#x}; this hypervisor loads images at {exec_base:#x}",
            first.vaddr
        ));
    }
    for &(i, p) in &loads {
        let inside_image = p.vaddr.checked_sub(load_start).and_then(|s| s.checked_add(p.memsz)).is_some_and(|e| e <= mem_size);
        if !inside_image {
            return Err(format!(
                "segment {i} (at {:#x}, {:#x} bytes) lies outside the loaded image of {mem_size:#x} bytes",
                p.vaddr, p.memsz
            ));
        }
    }
    let start_addr = if relocatable { exec_base } else { first.vaddr };
    if let Some(tls) = phdrs.iter().find(|p| p.p_type == PT_TLS) {
        if relocatable && tls.vaddr.checked_add(start_addr).and_then(|s| s.checked_add(tls.memsz)).is_none() {
            return Err("the TLS segment's address range overflows".into());
        }
    }

    check_notes(bytes, &phdrs)?;
    let dynsyms = dynsym_table(bytes, e_shoff, e_shnum)?;
    let (rela, relasz) = dynamic_relocations(bytes, &phdrs)?;
    if relocatable {
        check_relocations(bytes, &phdrs, load_start, mem_size, start_addr, (rela, relasz), dynsyms)?;
    }

    let entry_offset = if relocatable { Some(e_entry) } else { e_entry.checked_sub(first.vaddr) };
    if entry_offset.is_none_or(|o| o >= mem_size) {
        return Err(format!("the entry point {e_entry:#x} lies outside the loaded image"));
    }
    Ok(Checked { mem_size })
}

/// The first PT_NOTE segment, walked as the loader's note iterator walks it.
fn check_notes(bytes: &[u8], phdrs: &[Phdr]) -> Result<(), String> {
    let len = bytes.len() as u64;
    let Some(note) = phdrs.iter().find(|p| p.p_type == PT_NOTE) else {
        return Err("the ELF file has no note segment (Hermit images carry their entry version in one)".into());
    };
    if !inside(note.offset, note.filesz, len) {
        return Err(format!(
            "the note segment ({:#x} bytes at file offset {:#x}) extends past the end of the file of {len} bytes",
            note.filesz, note.offset
        ));
    }
    if !note.align.is_power_of_two() || note.align > 4096 {
        return Err(format!("the note segment's alignment {} is not a power of two up to 4096", note.align));
    }
    if !note.offset.is_multiple_of(4) {
        return Err(format!("the note segment at file offset {:#x} is not 4-byte aligned", note.offset));
    }
    // In bounds (checked above); usize on a 64-bit host.
    let seg = &bytes[note.offset as usize..(note.offset + note.filesz) as usize];
    let mut pos = 0usize;
    let mut entry_version = false;
    // The loader reads a note header while 12 aligned bytes remain; a misaligned position
    // (alignments of 1 or 2) ends its walk, as it does here. The image buffer is 8-aligned,
    // so file offsets and addresses agree modulo 4.
    while seg.len() - pos >= NHDR_SIZE && (note.offset as usize + pos).is_multiple_of(4) {
        let rest = &seg[pos..];
        let namesz = u64::from(u32_at(rest, 0).unwrap_or(0));
        let descsz = u64::from(u32_at(rest, 4).unwrap_or(0));
        let ty = u32_at(rest, 8).unwrap_or(0);
        let avail = rest.len() as u64;
        if namesz == 0 {
            return Err("a note has an empty name".into());
        }
        let name_end = NHDR_SIZE as u64 + namesz - 1;
        if name_end > avail {
            return Err(format!("a note's name ({namesz} bytes) runs past the note segment"));
        }
        let name = std::str::from_utf8(&rest[NHDR_SIZE..name_end as usize]).map_err(|_| "a note's name is not UTF-8".to_string())?;
        let desc_at = align_up(NHDR_SIZE as u64 + namesz, note.align).filter(|&d| d <= avail);
        let desc_end = desc_at.and_then(|d| d.checked_add(descsz)).filter(|&e| e <= avail);
        let Some(desc_end) = desc_end else {
            return Err(format!("note {name:?}'s descriptor ({descsz} bytes) runs past the note segment"));
        };
        let next = align_up(desc_end, note.align)
            .filter(|&n| n <= avail)
            .ok_or_else(|| format!("note {name:?} runs past the note segment"))?;
        if name == HERMIT_NOTE_NAME && ty == NT_HERMIT_ENTRY_VERSION {
            if descsz == 0 {
                return Err("the Hermit entry-version note is empty".into());
            }
            entry_version = true;
        }
        pos += next as usize;
    }
    if !entry_version {
        return Err("no Hermit entry-version note (not built for the Hermit entry protocol)".into());
    }
    Ok(())
}

/// The first SHT_DYNSYM section: (file offset, symbol count); (0, 0) without one.
fn dynsym_table(bytes: &[u8], e_shoff: u64, e_shnum: u16) -> Result<(u64, u64), String> {
    let len = bytes.len() as u64;
    for i in 0..u64::from(e_shnum) {
        let at = e_shoff + i * SHDR_SIZE; // the table was checked
        if u32_at(bytes, at + 4) != Some(SHT_DYNSYM) {
            continue;
        }
        let off = u64_at(bytes, at + 24).unwrap_or(0);
        let size = u64_at(bytes, at + 32).unwrap_or(0);
        if !off.is_multiple_of(8) || !inside(off, size, len) {
            return Err(format!("the dynamic symbol table ({size:#x} bytes at file offset {off:#x}) lies outside the file of {len} bytes or is misaligned"));
        }
        return Ok((off, size / SYM_SIZE));
    }
    Ok((0, 0))
}

/// The file offset a virtual address maps to through the first PT_LOAD covering it (goblin's
/// rule, which the loader uses); 0 when none does.
fn vm_to_offset(phdrs: &[Phdr], addr: u64) -> u64 {
    for p in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        if addr >= p.vaddr && addr - p.vaddr < p.memsz {
            return p.offset.checked_add(addr - p.vaddr).unwrap_or(0);
        }
    }
    0
}

/// The first PT_DYNAMIC segment's relocation table: (file offset, bytes).
fn dynamic_relocations(bytes: &[u8], phdrs: &[Phdr]) -> Result<(u64, u64), String> {
    let len = bytes.len() as u64;
    let Some(d) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else { return Ok((0, 0)) };
    if !d.offset.is_multiple_of(8) || !inside(d.offset, d.filesz, len) {
        return Err(format!(
            "the dynamic segment ({:#x} bytes at file offset {:#x}) lies outside the file of {len} bytes or is misaligned",
            d.filesz, d.offset
        ));
    }
    let (mut rela, mut relasz, mut relcount, mut needed) = (0, 0, 0, false);
    // Every entry, as the loader reads them (also those after DT_NULL); later ones win.
    for i in 0..d.filesz / DYN_SIZE {
        let at = d.offset + i * DYN_SIZE;
        let (tag, val) = (u64_at(bytes, at).unwrap_or(0), u64_at(bytes, at + 8).unwrap_or(0));
        match tag {
            DT_NEEDED => needed = true,
            DT_RELA => rela = vm_to_offset(phdrs, val),
            DT_RELASZ => relasz = val,
            DT_RELCOUNT => relcount = val,
            _ => {}
        }
    }
    if needed {
        return Err("it is linked against dynamic libraries".into());
    }
    if relcount != 0 {
        return Err("it has REL relocations (DT_RELCOUNT); Hermit images use RELA".into());
    }
    if !rela.is_multiple_of(8) || !inside(rela, relasz, len) {
        return Err(format!("the relocation table ({relasz:#x} bytes at file offset {rela:#x}) lies outside the file of {len} bytes or is misaligned"));
    }
    Ok((rela, relasz))
}

/// The 8 bytes the loaded image holds at `offset` before relocation: segment file bytes, or
/// zero (bss and gaps; guest RAM starts zeroed).
fn loaded_u64(bytes: &[u8], phdrs: &[Phdr], load_start: u64, offset: u64) -> u64 {
    let mut v = [0u8; 8];
    for (k, byte) in v.iter_mut().enumerate() {
        let at = offset + k as u64;
        for p in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
            let seg_start = p.vaddr - load_start; // checked by the caller's segment checks
            if at >= seg_start && at - seg_start < p.filesz {
                *byte = bytes.get((p.offset + (at - seg_start)) as usize).copied().unwrap_or(0);
            }
        }
    }
    u64::from_le_bytes(v)
}

/// Every RELA entry as the loader applies it.
fn check_relocations(
    bytes: &[u8],
    phdrs: &[Phdr],
    load_start: u64,
    mem_size: u64,
    start_addr: u64,
    (rela, relasz): (u64, u64),
    (symtab, nsyms): (u64, u64),
) -> Result<(), String> {
    let mut targets = BTreeSet::new();
    for i in 0..relasz / RELA_SIZE {
        let at = rela + i * RELA_SIZE; // inside the file (checked)
        let r_offset = u64_at(bytes, at).unwrap_or(0);
        let r_info = u64_at(bytes, at + 8).unwrap_or(0);
        let addend = u64_at(bytes, at + 16).unwrap_or(0) as i64;
        let (ty, sym) = (r_info as u32, r_info >> 32);
        if r_offset.checked_add(8).is_none_or(|e| e > mem_size) {
            return Err(format!("relocation {i} targets offset {r_offset:#x}, outside the loaded image of {mem_size:#x} bytes"));
        }
        let value = match ty {
            R_X86_64_RELATIVE => (start_addr as i64).checked_add(addend),
            R_X86_64_64 | R_X86_64_GLOB_DAT => {
                if sym >= nsyms {
                    return Err(format!("relocation {i} names symbol {sym}, but the dynamic symbol table has {nsyms}"));
                }
                if ty == R_X86_64_GLOB_DAT && addend != 0 {
                    return Err(format!("relocation {i} (GLOB_DAT) has a non-zero addend"));
                }
                let s = symtab + sym * SYM_SIZE;
                let info = bytes.get(s as usize + 4).copied().unwrap_or(0);
                let (shndx, value) = (u16_at(bytes, s + 6).unwrap_or(0), u64_at(bytes, s + 8).unwrap_or(0));
                if info >> 4 == STB_WEAK && shndx == 0 {
                    // The loader asserts the target still holds zero.
                    let clash = targets.range(r_offset.saturating_sub(7)..r_offset.saturating_add(8)).next().is_some();
                    if clash || loaded_u64(bytes, phdrs, load_start, r_offset) != 0 {
                        return Err(format!("relocation {i} of an undefined weak symbol targets non-zero bytes"));
                    }
                    continue;
                }
                (start_addr as i64).checked_add(value as i64).and_then(|v| v.checked_add(addend))
            }
            other => return Err(format!("relocation {i} has type {other}, which the Hermit loader does not support")),
        };
        if value.is_none() {
            return Err(format!("relocation {i}'s value overflows"));
        }
        targets.insert(r_offset);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_short_inputs_never_panic() {
        for len in 0..200 {
            let mut b = vec![0u8; len];
            if len >= 4 {
                b[..4].copy_from_slice(b"\x7fELF");
            }
            for fill in [0u8, 0xff, 0x41] {
                for x in b.iter_mut().skip(4) {
                    *x = fill;
                }
                let _ = check(&b, 0x1_0004_0000);
            }
        }
    }

    #[test]
    fn helpers_refuse_out_of_range_reads() {
        assert_eq!(u64_at(&[0; 8], 1), None);
        assert_eq!(u64_at(&[0; 8], u64::MAX), None);
        assert!(!inside(u64::MAX, 2, 10));
        assert_eq!(align_up(u64::MAX, 8), None);
    }
}
