//! The CPU a snapshot's guest was promised (`snapfmt::CpuContract`: the CPUID leaves it was
//! given and its TSC frequency) against the CPU a clone would run on. A clone runs only where
//! the vendor is the same, no feature the guest saw is missing (it may already use it: std
//! and Boa pick code paths by CPUID), and the TSC runs at the same frequency (libos converts
//! TSC ticks to time with the frequency it read at boot; this host cannot scale the TSC, so a
//! different frequency would make the guest's clocks wrong). Otherwise the clone is refused
//! with the reason, instead of faulting on a missing instruction or running with wrong clocks.

use snapfmt::{CpuContract, CpuidLeaf};

/// Reads one register of a leaf.
type Register = fn(&CpuidLeaf) -> u32;

/// Feature registers compared bit by bit: (leaf, sub-leaf, register name, register).
const FEATURES: [(u32, u32, &str, Register); 7] = [
    (1, 0, "ecx", |l| l.ecx),
    (1, 0, "edx", |l| l.edx),
    (7, 0, "ebx", |l| l.ebx),
    (7, 0, "ecx", |l| l.ecx),
    (7, 0, "edx", |l| l.edx),
    (0x8000_0001, 0, "ecx", |l| l.ecx),
    (0x8000_0001, 0, "edx", |l| l.edx),
];

/// Largest TSC frequency difference accepted (KVM reports kHz, rounded).
const TSC_TOLERANCE: f64 = 0.0005;

fn leaf(v: &[CpuidLeaf], function: u32, index: u32) -> Option<&CpuidLeaf> {
    v.iter().find(|l| l.function == function && l.index == index)
}

fn vendor(v: &[CpuidLeaf]) -> Option<String> {
    let l = leaf(v, 0, 0)?;
    let bytes: Vec<u8> = [l.ebx, l.edx, l.ecx].iter().flat_map(|r| r.to_le_bytes()).collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether a guest promised `contract` may run on a CPU offering `host` with a TSC of
/// `host_tsc_khz`; `Err` says what differs. An empty contract (no CPUID recorded) is accepted.
pub fn check(contract: &CpuContract, host: &[CpuidLeaf], host_tsc_khz: Option<u32>) -> Result<(), String> {
    if contract.cpuid.is_empty() {
        return Ok(());
    }
    let (theirs, ours) = (vendor(&contract.cpuid), vendor(host));
    if theirs != ours {
        return Err(format!(
            "the snapshot was taken on a {} CPU, this host's is {}",
            theirs.unwrap_or_else(|| "unknown".into()),
            ours.unwrap_or_else(|| "unknown".into())
        ));
    }
    for (function, index, name, reg) in FEATURES {
        let want = leaf(&contract.cpuid, function, index).map_or(0, reg);
        let have = leaf(host, function, index).map_or(0, reg);
        let missing = want & !have;
        if missing != 0 {
            return Err(format!(
                "this host's CPU lacks features the snapshot's guest was given: CPUID leaf {function:#x}.{index} {name} bits {missing:#x}"
            ));
        }
    }
    if let (Some(a), Some(b)) = (contract.tsc_khz, host_tsc_khz) {
        if (f64::from(a) - f64::from(b)).abs() > f64::from(a) * TSC_TOLERANCE {
            return Err(format!(
                "the snapshot's guest reads a {a} kHz TSC, this host's runs at {b} kHz, and KVM here cannot scale it: \
                 the guest's clocks would be wrong"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(function: u32, ebx: u32, ecx: u32, edx: u32) -> CpuidLeaf {
        CpuidLeaf { function, index: 0, eax: 0, ebx, ecx, edx }
    }

    #[test]
    fn vendor_features_and_tsc_are_checked() {
        let genuine = l(0, u32::from_le_bytes(*b"Genu"), u32::from_le_bytes(*b"ntel"), u32::from_le_bytes(*b"ineI"));
        let host = vec![genuine, l(1, 0, 0b1111, 0b1)];
        let ok = CpuContract { cpuid: vec![genuine, l(1, 0, 0b0101, 0b1)], tsc_khz: Some(2_000_000) };
        assert_eq!(check(&ok, &host, Some(2_000_100)), Ok(()));
        let more = CpuContract { cpuid: vec![genuine, l(1, 0, 0b1_0000, 0)], tsc_khz: None };
        assert!(check(&more, &host, None).unwrap_err().contains("0x1.0 ecx bits 0x10"));
        let amd = CpuContract { cpuid: vec![l(0, 1, 2, 3)], tsc_khz: None };
        assert!(check(&amd, &host, None).unwrap_err().contains("CPU"));
        let slow = CpuContract { tsc_khz: Some(1_000_000), ..ok.clone() };
        assert!(check(&slow, &host, Some(2_000_000)).unwrap_err().contains("TSC"));
        assert_eq!(check(&CpuContract::default(), &host, Some(1)), Ok(()));
    }
}
