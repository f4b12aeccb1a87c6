//! Round trips and every way a snapshot file can be wrong, through both `decode` (memory)
//! and `Snapshot::open` (file).

use std::fs;
use std::path::{Path, PathBuf};

use snapfmt::{
    decode, encode, write, CpuContract, CpuidLeaf, Header, ImageRef, Kind, PageHash, PageRun, Pages, ParentRef, SnapError,
    Snapshot, SnapshotId, VcpuState, FORMAT_VERSION, MAGIC, PAGE_SIZE, PREAMBLE_SIZE,
};
use xxhash_rust::xxh3::xxh3_64;

const BASE: u64 = 0x1_0000_0000;

fn header(runs: Vec<PageRun>, parent: Option<ParentRef>) -> Header {
    Header {
        kind: if parent.is_some() { Kind::Function } else { Kind::Runtime },
        abi_version: 3,
        image: ImageRef { name: "hello.img".into(), hash: 0xdead_beef_cafe_f00d },
        guest_memory_base: BASE,
        guest_memory_bytes: 16 * PAGE_SIZE,
        parent,
        vcpu: VcpuState {
            regs: (0..144).map(|i| i as u8).collect(),
            sregs: vec![7; 312],
            xsave: vec![1, 2, 3],
            xcrs: vec![],
            events: vec![9; 64],
            msrs: vec![(0xc000_0080, 0xd01), (0x10, u64::MAX)],
        },
        runs,
        pages: Pages::Inline,
        cpu: CpuContract { cpuid: vec![CpuidLeaf { function: 1, index: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 }], tsc_khz: Some(2_000_000) },
        created_unix_ns: 1_700_000_000_123_456_789,
    }
}

fn sample_header() -> Header {
    header(sample_runs(), None)
}

fn sample_runs() -> Vec<PageRun> {
    vec![PageRun { first_page: 0, count: 2 }, PageRun { first_page: 5, count: 1 }, PageRun { first_page: 10, count: 3 }]
}

/// Pages whose every byte depends on page index and offset (and `seed`).
fn pages(n: u64, seed: u8) -> Vec<u8> {
    (0..n * PAGE_SIZE).map(|i| ((i / PAGE_SIZE) as u8).wrapping_mul(31) ^ (i as u8) ^ seed).collect()
}

fn sample_file() -> Vec<u8> {
    let h = sample_header();
    encode(&h, &pages(h.stored_pages(), 0)).unwrap().0
}

fn header_len(file: &[u8]) -> usize {
    u64::from_le_bytes(file[16..24].try_into().unwrap()) as usize
}

/// Recomputes the preamble checksum after a deliberate edit.
fn fix_preamble_checksum(file: &mut [u8]) {
    let sum = xxh3_64(&file[..56]);
    file[56..64].copy_from_slice(&sum.to_le_bytes());
}

/// Builds a file around arbitrary header bytes, bypassing the writer's checks.
fn assemble(header_bytes: &[u8], data: &[u8], data_offset: Option<u64>, data_len: Option<u64>) -> Vec<u8> {
    let hl = header_bytes.len() as u64;
    let off = (PREAMBLE_SIZE + hl).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let mut f = vec![0u8; 64];
    f[..8].copy_from_slice(&MAGIC);
    f[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    f[16..24].copy_from_slice(&hl.to_le_bytes());
    f[24..32].copy_from_slice(&xxh3_64(header_bytes).to_le_bytes());
    f[32..40].copy_from_slice(&data_offset.unwrap_or(off).to_le_bytes());
    f[40..48].copy_from_slice(&data_len.unwrap_or(data.len() as u64).to_le_bytes());
    f[48..56].copy_from_slice(&xxh3_64(data).to_le_bytes());
    fix_preamble_checksum(&mut f);
    f.extend_from_slice(header_bytes);
    f.resize(off as usize, 0);
    f.extend_from_slice(data);
    f
}

/// Runs both readers on `bytes` and returns their errors (asserting both failed).
fn both_fail(bytes: &[u8]) -> (SnapError, SnapError) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap");
    fs::write(&path, bytes).unwrap();
    let mem = decode(bytes).expect_err("decode accepted a bad file");
    let file = Snapshot::open(&path).expect_err("open accepted a bad file");
    (mem, file)
}

macro_rules! assert_both {
    ($bytes:expr, $pat:pat) => {{
        let (mem, file) = both_fail(&$bytes);
        assert!(matches!(mem, $pat), "decode: {mem:?}");
        assert!(matches!(file, $pat), "open: {file:?}");
        mem
    }};
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.snap");
    let h = sample_header();
    let data = pages(h.stored_pages(), 0);
    assert_eq!(h.stored_pages(), 6);

    let id = write(&path, &h, &data).unwrap();
    let snap = Snapshot::open(&path).unwrap();
    assert_eq!(snap.header(), &h);
    assert_eq!(snap.id(), id);
    assert_eq!(snap.path(), path);
    assert_eq!(snap.data_offset() % PAGE_SIZE, 0);
    assert_eq!(snap.data_offset(), PAGE_SIZE);
    assert_eq!(snap.data_len(), 6 * PAGE_SIZE);
    assert_eq!(snap.file().metadata().unwrap().len(), snap.data_offset() + snap.data_len());

    let mut buf = vec![0u8; PAGE_SIZE as usize];
    for (i, want) in data.chunks(PAGE_SIZE as usize).enumerate() {
        snap.read_page(i as u64, &mut buf).unwrap();
        assert_eq!(buf, want, "page {i}");
    }
    assert!(matches!(snap.read_page(6, &mut buf), Err(SnapError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidInput));
    assert!(matches!(snap.read_page(u64::MAX, &mut buf), Err(SnapError::Io(_))));
    assert!(matches!(snap.read_page(0, &mut buf[..100]), Err(SnapError::Io(_))));

    // The id is stable: reopening, decoding and encoding agree, and so does a second write.
    assert_eq!(Snapshot::open(&path).unwrap().id(), id);
    let bytes = fs::read(&path).unwrap();
    let d = decode(&bytes).unwrap();
    assert_eq!((d.id, &d.header, d.data_offset, d.data_len), (id, &h, snap.data_offset(), snap.data_len()));
    let (enc, enc_id) = encode(&h, &data).unwrap();
    assert_eq!((enc, enc_id), (bytes, id));
    assert_eq!(write(&dir.path().join("again.snap"), &h, &data).unwrap(), id);

    // The id names the content.
    let other = write(&dir.path().join("other.snap"), &h, &pages(6, 1)).unwrap();
    assert_ne!(other, id);
    assert_eq!(entries(dir.path()).len(), 3, "no temporary files are left");
}

#[test]
fn round_trip_without_pages_and_with_parent() {
    let parent = ParentRef { id: SnapshotId([0xab; 16]), path: "/snaps/runtime.snap".into() };
    let h = header(vec![], Some(parent));
    let (bytes, id) = encode(&h, &[]).unwrap();
    assert_eq!(bytes.len() as u64, PAGE_SIZE);
    let d = decode(&bytes).unwrap();
    assert_eq!((d.header, d.id, d.data_len), (h, id, 0));
}

#[test]
fn truncated_in_preamble() {
    let f = sample_file();
    let e = assert_both!(f[..30], SnapError::Truncated { needed: 64, actual: 30 });
    assert_eq!(e.to_string(), "truncated snapshot: file has 30 bytes, needs 64");
    assert_both!(f[..0], SnapError::Truncated { needed: 64, actual: 0 });
    assert_both!(f[..63], SnapError::Truncated { needed: 64, actual: 63 });
}

#[test]
fn truncated_in_header() {
    let f = sample_file();
    let hl = header_len(&f) as u64;
    let cut = 64 + hl as usize / 2;
    let e = assert_both!(f[..cut], SnapError::Truncated { .. });
    assert!(matches!(e, SnapError::Truncated { needed, actual } if needed == 64 + hl && actual == cut as u64));
    assert_both!(f[..64], SnapError::Truncated { .. });
}

#[test]
fn truncated_in_padding_or_data() {
    let f = sample_file();
    let full = f.len() as u64;
    for cut in [f.len() - 1, f.len() - 100, PAGE_SIZE as usize + 1, PAGE_SIZE as usize, PAGE_SIZE as usize - 1] {
        let e = assert_both!(f[..cut], SnapError::Truncated { .. });
        assert!(matches!(e, SnapError::Truncated { needed, actual } if needed == full && actual == cut as u64), "{e:?}");
    }
}

#[test]
fn foreign_files() {
    // Pseudo-random bytes.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let e = assert_both!(random, SnapError::Foreign);
    assert_eq!(e.to_string(), "not a snapshot file (bad magic)");

    // An ELF header (x86-64 executable) followed by some code.
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0, 1, 0, 0, 0];
    elf.resize(4096, 0x90);
    assert_both!(elf, SnapError::Foreign);
    // Too short to hold a preamble: truncated comes first.
    assert_both!(elf[..20], SnapError::Truncated { .. });
}

#[test]
fn wrong_version() {
    let mut f = sample_file();
    let other = FORMAT_VERSION + 1;
    f[8..12].copy_from_slice(&other.to_le_bytes());
    assert_both!(f, SnapError::PreambleChecksum);
    fix_preamble_checksum(&mut f);
    let e = assert_both!(f, SnapError::Version { found: _, supported: FORMAT_VERSION });
    assert_eq!(
        e.to_string(),
        format!("snapshot format version {other} is not supported (this build reads version {FORMAT_VERSION})")
    );
}

#[test]
fn tampered_preamble() {
    let f = sample_file();
    for i in [8, 12, 17, 24, 33, 40, 48, 56, 63] {
        let mut g = f.clone();
        g[i] ^= 0x04;
        let e = assert_both!(g, SnapError::PreambleChecksum);
        assert_eq!(e.to_string(), "snapshot preamble checksum mismatch: the file is corrupt or was modified");
    }
}

#[test]
fn unknown_flags() {
    let mut f = sample_file();
    f[12] = 2; // bit 0 is FLAG_AUTHENTICATED (tests/auth.rs)
    fix_preamble_checksum(&mut f);
    assert_both!(f, SnapError::Inconsistent(_));
}

#[test]
fn tampered_header_byte() {
    let f = sample_file();
    let hl = header_len(&f);
    for i in [64, 64 + hl / 2, 64 + hl - 1] {
        let mut g = f.clone();
        g[i] ^= 0x01;
        assert_both!(g, SnapError::HeaderChecksum);
    }
}

#[test]
fn tampered_data_byte() {
    let f = sample_file();
    for i in [PAGE_SIZE as usize, f.len() / 2 + 3, f.len() - 1] {
        let mut g = f.clone();
        g[i] ^= 0x80;
        let e = assert_both!(g, SnapError::DataChecksum);
        assert_eq!(e.to_string(), "snapshot data checksum mismatch: the file is corrupt or was modified");
    }
}

#[test]
fn trailing_bytes() {
    let mut f = sample_file();
    f.push(0);
    let e = assert_both!(f, SnapError::Inconsistent(_));
    assert!(e.to_string().contains("trailing"), "{e}");
    f.extend_from_slice(&[0; 4095]);
    assert_both!(f, SnapError::Inconsistent(_));
}

#[test]
fn nonzero_padding() {
    let mut f = sample_file();
    f[PAGE_SIZE as usize - 1] = 1;
    let e = assert_both!(f, SnapError::Inconsistent(_));
    assert!(e.to_string().contains("padding"), "{e}");
}

#[test]
fn header_that_does_not_decode() {
    let data = pages(1, 0);
    assert_both!(assemble(&[0xff; 40], &data, None, None), SnapError::Header(_));
    assert_both!(assemble(&[], &[], None, None), SnapError::Header(_));
    // A valid header followed by extra bytes inside header_len.
    let mut hb = postcard::to_stdvec(&header(vec![PageRun { first_page: 3, count: 1 }], None)).unwrap();
    assert!(decode(&assemble(&hb, &data, None, None)).is_ok());
    hb.push(0);
    let e = assert_both!(assemble(&hb, &data, None, None), SnapError::Header(_));
    assert!(e.to_string().starts_with("snapshot header cannot be decoded: "), "{e}");
}

#[test]
fn header_length_beyond_limit() {
    let mut f = sample_file();
    f[16..24].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
    fix_preamble_checksum(&mut f);
    assert_both!(f, SnapError::Inconsistent(_));
    f[16..24].copy_from_slice(&((64u64 << 20) + 1).to_le_bytes());
    fix_preamble_checksum(&mut f);
    assert_both!(f, SnapError::Inconsistent(_));
    // Within the limit but longer than the file.
    f[16..24].copy_from_slice(&(64u64 << 20).to_le_bytes());
    fix_preamble_checksum(&mut f);
    let e = assert_both!(f, SnapError::Truncated { .. });
    assert!(matches!(e, SnapError::Truncated { needed, .. } if needed == 64 + (64 << 20)), "{e:?}");
}

fn bad_headers() -> Vec<(&'static str, Header)> {
    let run = |first_page, count| PageRun { first_page, count };
    let mut v = vec![
        ("overlapping runs", header(vec![run(0, 3), run(2, 1)], None)),
        ("unsorted runs", header(vec![run(5, 1), run(1, 1)], None)),
        ("duplicate runs", header(vec![run(5, 1), run(5, 1)], None)),
        ("empty run", header(vec![run(1, 0)], None)),
        ("run past guest memory", header(vec![run(15, 2)], None)),
        ("run at guest memory end", header(vec![run(16, 1)], None)),
        ("run overflowing", header(vec![run(u64::MAX, 2)], None)),
        ("huge runs", header(vec![run(0, u64::MAX), run(u64::MAX, u64::MAX)], None)),
    ];
    let mut h = sample_header();
    h.guest_memory_bytes += 1;
    v.push(("memory size not page multiple", h));
    let mut h = sample_header();
    h.guest_memory_bytes = 0;
    h.runs.clear();
    v.push(("no guest memory", h));
    let mut h = sample_header();
    h.guest_memory_base = u64::MAX - PAGE_SIZE;
    v.push(("memory range overflowing", h));
    v
}

#[test]
fn inconsistent_headers_are_refused_by_writer_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    for (what, h) in bad_headers() {
        let n = h.runs.iter().fold(0u64, |a, r| a.saturating_add(r.count)).min(8);
        let data = pages(n, 0);
        assert!(matches!(h.validate(), Err(SnapError::Inconsistent(_))), "{what}");
        let path = dir.path().join("bad.snap");
        assert!(matches!(write(&path, &h, &data), Err(SnapError::Inconsistent(_))), "{what}");
        assert!(matches!(encode(&h, &data), Err(SnapError::Inconsistent(_))), "{what}");
        assert!(!path.exists(), "{what}");
        let hb = postcard::to_stdvec(&h).unwrap();
        let (mem, file) = both_fail(&assemble(&hb, &data, None, None));
        assert!(matches!(mem, SnapError::Inconsistent(_)), "{what}: {mem:?}");
        assert!(matches!(file, SnapError::Inconsistent(_)), "{what}: {file:?}");
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn preamble_disagreeing_with_header() {
    let h = sample_header();
    let hb = postcard::to_stdvec(&h).unwrap();
    let data = pages(6, 0);
    assert!(decode(&assemble(&hb, &data, None, None)).is_ok());
    // Data offset not where the header ends.
    assert_both!(assemble(&hb, &data, Some(2 * PAGE_SIZE), None), SnapError::Inconsistent(_));
    assert_both!(assemble(&hb, &data, Some(64 + hb.len() as u64), None), SnapError::Inconsistent(_));
    // Data length not what the runs describe (file size adjusted to match the preamble).
    let short = &data[..5 * PAGE_SIZE as usize];
    assert_both!(assemble(&hb, short, None, None), SnapError::Inconsistent(_));
    assert_both!(assemble(&hb, &data, None, Some(u64::MAX)), SnapError::Inconsistent(_));
}

#[test]
fn check_parent() {
    let dir = tempfile::tempdir().unwrap();
    let rt_path = dir.path().join("runtime.snap");
    let rt_id = write(&rt_path, &sample_header(), &pages(6, 0)).unwrap();
    let other_path = dir.path().join("other.snap");
    let other_id = write(&other_path, &sample_header(), &pages(6, 9)).unwrap();
    let fn_path = dir.path().join("function.snap");
    let parent = ParentRef { id: rt_id, path: rt_path.display().to_string() };
    write(&fn_path, &header(vec![PageRun { first_page: 7, count: 1 }], Some(parent)), &pages(1, 3)).unwrap();

    let rt = Snapshot::open(&rt_path).unwrap();
    let other = Snapshot::open(&other_path).unwrap();
    let func = Snapshot::open(&fn_path).unwrap();

    func.check_parent(Some(&rt)).unwrap();
    rt.check_parent(None).unwrap();

    let e = func.check_parent(Some(&other)).unwrap_err();
    assert!(matches!(e, SnapError::WrongParent { expected, found } if expected == rt_id && found == other_id), "{e:?}");
    assert_eq!(e.to_string(), format!("snapshot was taken from parent {rt_id}, but the parent given is {other_id}"));

    let e = func.check_parent(None).unwrap_err();
    assert!(matches!(e, SnapError::MissingParent(id) if id == rt_id), "{e:?}");
    assert_eq!(e.to_string(), format!("this snapshot needs its parent snapshot {rt_id}"));

    assert!(matches!(rt.check_parent(Some(&rt)), Err(SnapError::NotAParentSnapshot)));
    assert!(matches!(rt.check_parent(Some(&func)), Err(SnapError::NotAParentSnapshot)));
}

#[test]
fn atomic_write_does_not_clobber_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap");
    let h = sample_header();
    let good = pages(6, 0);
    write(&path, &h, &good).unwrap();
    let before = fs::read(&path).unwrap();

    // Data of the wrong length: refused before anything is created.
    for len in [0, 5 * PAGE_SIZE as usize, 6 * PAGE_SIZE as usize + 1, 7 * PAGE_SIZE as usize] {
        let e = write(&path, &h, &pages(7, 5)[..len]).unwrap_err();
        assert!(matches!(e, SnapError::Inconsistent(_)), "{e:?}");
    }
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), vec![path.clone()]);

    // A failing rename (the target is a directory) removes the temporary file.
    let blocker = dir.path().join("blocker");
    fs::create_dir(&blocker).unwrap();
    fs::write(blocker.join("keep"), b"x").unwrap();
    assert!(matches!(write(&blocker, &h, &good), Err(SnapError::Io(_))));
    assert_eq!(entries(dir.path()), vec![blocker.clone(), path.clone()]);

    // A missing directory is an I/O error and creates nothing.
    assert!(matches!(write(&dir.path().join("nope/snap"), &h, &good), Err(SnapError::Io(_))));

    // A successful overwrite replaces the file and leaves no temporary file.
    let new = pages(6, 42);
    let id = write(&path, &h, &new).unwrap();
    assert_eq!(Snapshot::open(&path).unwrap().id(), id);
    assert_ne!(fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), vec![blocker, path]);
}

#[test]
fn path_without_file_name_is_an_io_error() {
    assert!(matches!(write(Path::new("/"), &sample_header(), &pages(6, 0)), Err(SnapError::Io(_))));
    assert!(matches!(Snapshot::open(Path::new("/nonexistent/snap")), Err(SnapError::Io(_))));
}

#[test]
fn flipping_any_of_the_first_200_bytes_always_errors() {
    let f = sample_file();
    assert!(decode(&f).is_ok());
    for i in 0..200 {
        for mask in [0x01u8, 0x10, 0x80, 0xff] {
            let mut g = f.clone();
            g[i] ^= mask;
            assert!(decode(&g).is_err(), "flipping byte {i} with {mask:#x} went unnoticed");
        }
    }
}

#[test]
fn every_corruption_sampled_across_the_file_errors() {
    let f = sample_file();
    for i in (0..f.len()).step_by(97).chain([f.len() - 1]) {
        let mut g = f.clone();
        g[i] ^= 0x20;
        assert!(decode(&g).is_err(), "flipping byte {i} went unnoticed");
    }
    for cut in (0..f.len()).step_by(61) {
        assert!(decode(&f[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
}

#[test]
fn store_backed_snapshots_have_no_data_and_one_hash_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut h = sample_header();
    let n = h.stored_pages() as usize;
    h.pages = Pages::Store((0..n).map(|i| PageHash::of(&[i as u8; 4096])).collect());
    let path = dir.join("s.snap");
    write(&path, &h, &[]).unwrap();
    let s = Snapshot::open(&path).unwrap();
    assert_eq!(s.data_len(), 0);
    assert_eq!(s.header().pages, h.pages);
    let mut page = vec![0u8; 4096];
    assert!(s.read_page(0, &mut page).is_err(), "pages in a store are not in the file");
    // One hash short is inconsistent, for the writer and the readers.
    let mut bad = h.clone();
    if let Pages::Store(v) = &mut bad.pages {
        v.pop();
    }
    assert!(matches!(write(&dir.join("bad.snap"), &bad, &[]), Err(SnapError::Inconsistent(_))));
    assert_ne!(PageHash::zero(), PageHash::of(&[1u8; 4096]));
}
