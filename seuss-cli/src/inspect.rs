//! `seuss inspect`: a snapshot's metadata as one JSON object.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use seuss_hv::Loaded;
use serde_json::json;

use crate::exit::Status;

/// Runs the command: exit 0 when the snapshot and its parent chain load, 5 otherwise (the
/// object then carries `"ok": false` and the error).
pub fn inspect(path: &Path) -> Result<ExitCode> {
    let s = match snapfmt::Snapshot::open(path) {
        Ok(s) => s,
        Err(e) => {
            println!("{}", json!({"path": path.display().to_string(), "ok": false, "checksum_ok": false, "error": e.to_string()}));
            return Ok(Status::Host.into());
        }
    };
    let h = s.header();
    // The full load checks every field and the chain (ids, loops, depth).
    let chain = Loaded::open(path);
    let mut v = json!({
        "path": path.display().to_string(),
        "format_version": snapfmt::FORMAT_VERSION,
        "id": s.id().to_string(),
        "kind": format!("{:?}", h.kind),
        "parent": h.parent.as_ref().map(|p| json!({"id": p.id.to_string(), "path": p.path})),
        "image": {"name": h.image.name, "hash": format!("{:016x}", h.image.hash)},
        "abi_version": h.abi_version,
        "guest_memory_bytes": h.guest_memory_bytes,
        "stored_pages": h.stored_pages(),
        "stored_bytes": s.data_len(),
        "runs": h.runs.len(),
        "created_unix_ns": h.created_unix_ns,
        "checksum_ok": true,
        "authenticated": s.is_authenticated(),
        "ok": chain.is_ok(),
    });
    match &chain {
        Ok(l) => v["pending"] = json!(l.parked_call().name()),
        Err(e) => v["error"] = json!(e.to_string()),
    }
    println!("{v}");
    Ok(if chain.is_ok() { ExitCode::SUCCESS } else { Status::Host.into() })
}
