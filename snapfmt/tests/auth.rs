//! Authenticated snapshots: a store key's tag is required and checked when a key is given,
//! and a file re-checksummed by someone without the key is refused.

use std::os::unix::fs::PermissionsExt;

use snapfmt::{
    decode, decode_with, encode_with, write, write_with, CpuContract, Header, ImageRef, Kind, PageRun, Pages, SnapError, Snapshot, StoreKey,
    VcpuState, PAGE_SIZE, TAG_SIZE,
};

fn header() -> Header {
    Header {
        kind: Kind::Runtime,
        abi_version: 2,
        image: ImageRef { name: "x.img".into(), hash: 1 },
        guest_memory_base: 0x1_0000_0000,
        guest_memory_bytes: 16 * PAGE_SIZE,
        parent: None,
        vcpu: VcpuState { regs: vec![1; 144], sregs: vec![], xsave: vec![], xcrs: vec![], events: vec![], msrs: vec![] },
        runs: vec![PageRun { first_page: 2, count: 2 }],
        pages: Pages::Inline,
        cpu: CpuContract::default(),
        created_unix_ns: 5,
    }
}

fn data() -> Vec<u8> {
    (0..2 * PAGE_SIZE).map(|i| i as u8).collect()
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("snapfmt-auth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn unauthenticated(r: Result<impl std::fmt::Debug, SnapError>) -> bool {
    matches!(r, Err(SnapError::Unauthenticated(_)))
}

#[test]
fn a_keyed_file_opens_with_its_key_only() {
    let d = dir("keyed");
    let (key, other) = (StoreKey::from_bytes([7; 32]), StoreKey::from_bytes([8; 32]));
    let p = d.join("a.snap");
    let id = write_with(&p, &header(), &data(), Some(&key)).unwrap();
    let s = Snapshot::open_with(&p, Some(&key)).unwrap();
    assert_eq!(s.id(), id);
    assert!(s.is_authenticated());
    assert_eq!(s.file_len(), std::fs::metadata(&p).unwrap().len());
    assert!(unauthenticated(Snapshot::open_with(&p, Some(&other))), "another store's key");
    assert!(Snapshot::open(&p).is_ok(), "without a key the checksums still apply and suffice");
    // Memory and file agree.
    let (bytes, _) = encode_with(&header(), &data(), Some(&key)).unwrap();
    assert_eq!(bytes.len() as u64, s.file_len());
    assert!(decode_with(&bytes, Some(&key)).unwrap().authenticated);
    assert!(unauthenticated(decode_with(&bytes, Some(&other))));
}

#[test]
fn forged_or_unkeyed_files_are_refused_with_a_key() {
    let d = dir("forged");
    let key = StoreKey::from_bytes([9; 32]);
    // Someone without the key writes a well-formed file (valid checksums, no tag) ...
    let plain = d.join("plain.snap");
    write(&plain, &header(), &data()).unwrap();
    assert!(unauthenticated(Snapshot::open_with(&plain, Some(&key))));
    // ... or edits a keyed one and recomputes every checksum: the tag no longer matches.
    let keyed = d.join("keyed.snap");
    write_with(&keyed, &header(), &data(), Some(&key)).unwrap();
    let mut forged = header();
    forged.guest_memory_bytes *= 2;
    let (mut bytes, _) = encode_with(&forged, &data(), None).unwrap();
    let tag = std::fs::read(&keyed).unwrap()[..].iter().rev().take(TAG_SIZE as usize).rev().copied().collect::<Vec<u8>>();
    // Graft the old tag on and mark the file authenticated: still refused.
    bytes[12] |= 1;
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[..56]);
    bytes[56..64].copy_from_slice(&sum.to_le_bytes());
    bytes.extend_from_slice(&tag);
    assert!(decode(&bytes).is_ok(), "well-formed");
    assert!(unauthenticated(decode_with(&bytes, Some(&key))));
    // A flipped tag bit.
    let mut b = std::fs::read(&keyed).unwrap();
    let n = b.len();
    b[n - 1] ^= 1;
    std::fs::write(&keyed, &b).unwrap();
    assert!(unauthenticated(Snapshot::open_with(&keyed, Some(&key))));
}

#[test]
fn store_keys_are_created_private_and_read_back() {
    let d = dir("keyfile");
    let a = StoreKey::load_or_create(&d).unwrap();
    let path = d.join(snapfmt::KEY_FILE);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(StoreKey::load_or_create(&d).unwrap(), a, "the same key on the next start");
    assert_ne!(StoreKey::load_or_create(&dir("keyfile2")).unwrap(), a, "each store its own");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(StoreKey::load_or_create(&d).is_err(), "a key others can read is refused");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, b"short").unwrap();
    assert!(StoreKey::load_or_create(&d).is_err(), "a key of the wrong size is refused");
    assert_eq!(format!("{a:?}"), "StoreKey(..)", "Debug never shows the key");
}
