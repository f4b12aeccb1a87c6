//! The fuzz targets' properties on deterministic mutations, in the ordinary test suite (the
//! CI-sized run; `cargo xtask fuzz` runs the libFuzzer targets for longer): header bytes
//! behind correct checksums (`header` target) and whole files (`reader` target) give `Ok` or a
//! `SnapError`, never a panic; whatever decodes round-trips through `encode`.

use snapfmt::{
    decode, encode, frame, CpuContract, CpuidLeaf, Header, ImageRef, Kind, PageRun, Pages, ParentRef, SnapshotId, VcpuState, PAGE_SIZE,
};

fn sample() -> (Header, Vec<u8>) {
    let h = Header {
        kind: Kind::Function,
        abi_version: 2,
        image: ImageRef { name: "hello.img".into(), hash: 0x1234 },
        guest_memory_base: 0x1_0000_0000,
        guest_memory_bytes: 64 * PAGE_SIZE,
        parent: Some(ParentRef { id: SnapshotId([7; 16]), path: "rt.snap".into() }),
        vcpu: VcpuState { regs: vec![1; 144], sregs: vec![2; 312], xsave: vec![3; 64], xcrs: vec![4; 8], events: vec![5; 64], msrs: vec![(0x10, 99)] },
        runs: vec![PageRun { first_page: 1, count: 2 }, PageRun { first_page: 9, count: 1 }],
        pages: Pages::Inline,
        cpu: CpuContract { cpuid: vec![CpuidLeaf { function: 1, index: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 }], tsc_khz: Some(2_000_000) },
        created_unix_ns: 1,
    };
    let data = vec![0xab; (h.stored_pages() * PAGE_SIZE) as usize];
    (h, data)
}

/// What both targets assert about one input file.
fn check(file: &[u8]) -> bool {
    match decode(file) {
        Ok(d) => {
            let pages = vec![0u8; d.data_len as usize];
            let (again, _) = encode(&d.header, &pages).expect("a decoded header encodes");
            assert_eq!(decode(&again).expect("re-encoded file decodes").header, d.header);
            true
        }
        Err(_) => false,
    }
}

fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.usize(1..4) {
        if bytes.is_empty() {
            bytes.push(rng.u8(..));
            continue;
        }
        let at = rng.usize(0..bytes.len());
        match rng.u8(0..6) {
            0 => bytes[at] ^= 1 << rng.u8(0..8),
            1 => bytes[at] = rng.u8(..),
            2 => bytes[at] = [0, 0x7f, 0x80, 0xff][rng.usize(0..4)],
            3 => bytes.truncate(at),
            4 => bytes.insert(at, rng.u8(..)),
            _ => {
                bytes.remove(at);
            }
        }
    }
}

#[test]
fn mutated_headers_behind_valid_checksums_never_panic() {
    let (h, data) = sample();
    let (file, _) = encode(&h, &data).unwrap();
    let hl = u64::from_le_bytes(file[16..24].try_into().unwrap()) as usize;
    let header_bytes = file[64..64 + hl].to_vec();
    assert!(check(&frame(&header_bytes, &data)), "the unmutated frame decodes");
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let mut hb = header_bytes.clone();
        mutate(&mut rng, &mut hb);
        let d = if rng.u8(0..4) == 0 { &data[..rng.usize(0..data.len())] } else { &data[..] };
        if check(&frame(&hb, d)) { ok += 1 } else { refused += 1 }
    }
    assert!(refused > 0 && ok + refused == 20_000, "{ok} decoded, {refused} refused");
}

#[test]
fn mutated_whole_files_never_panic() {
    let (h, data) = sample();
    let (file, _) = encode(&h, &data).unwrap();
    let mut rng = fastrand::Rng::with_seed(12);
    for _ in 0..5_000 {
        let mut f = file.clone();
        mutate(&mut rng, &mut f);
        check(&f);
    }
    for len in 0..200 {
        let junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        check(&junk);
    }
}
