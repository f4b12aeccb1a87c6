//! Dumps a snapshot's stored pages for offline analysis: `dump_pages SNAP OUT_DIR` writes one
//! file per page, named by its guest-physical address in hex, plus `index.txt` (one address
//! per line). Pages must be inline (not in a page store).

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, snap, out] = &args[..] else {
        return Err("usage: dump_pages SNAP OUT_DIR".into());
    };
    let s = snapfmt::Snapshot::open(Path::new(snap))?;
    let h = s.header();
    std::fs::create_dir_all(out)?;
    let mut buf = vec![0u8; snapfmt::PAGE_SIZE as usize];
    let mut index = String::new();
    let mut i = 0u64;
    for run in &h.runs {
        for p in run.first_page..run.first_page + run.count {
            s.read_page(i, &mut buf)?;
            let gpa = h.guest_memory_base + p * snapfmt::PAGE_SIZE;
            std::fs::write(Path::new(out).join(format!("{gpa:x}")), &buf)?;
            index.push_str(&format!("{gpa:x}\n"));
            i += 1;
        }
    }
    std::fs::write(Path::new(out).join("index.txt"), index)?;
    let u = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let (r, sr) = (&h.vcpu.regs, &h.vcpu.sregs);
    println!("rsp={:x} rip={:x} fs_base={:x} base={:x} bytes={:x}", u(r, 48), u(r, 128), u(sr, 72), h.guest_memory_base, h.guest_memory_bytes);
    Ok(())
}
