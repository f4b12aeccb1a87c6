//! The run loop, the hypercall rules and the state machine on real KVM, with guests of a few
//! hand-assembled instructions (as kvm-ioctls tests its vCPU): no image, no libos.

use std::time::Duration;

use seuss_abi::{BufferParams, ResultParams, MAX_PAYLOAD};

use super::Instance;
use crate::config::{Config, MIN_MEMORY};
use crate::error::Error;
use crate::image::RAM_BASE;
use crate::outcome::Event;

/// Where the tests put parameter structs and buffers.
const PARAMS: u64 = RAM_BASE + 0x10_0000;
const BUFFER: u64 = RAM_BASE + 0x20_0000;

fn kvm() -> kvm_ioctls::Kvm {
    kvm_ioctls::Kvm::new().expect("these tests need /dev/kvm")
}

fn config() -> Config {
    Config { memory: MIN_MEMORY, timeout: Duration::from_secs(20), ..Config::default() }
}

/// `mov dx, port; out dx, al`
fn out(port: u16) -> Vec<u8> {
    let p = port.to_le_bytes();
    vec![0x66, 0xBA, p[0], p[1], 0xEE]
}

/// `mov rdi, value`
fn mov_rdi(value: u64) -> Vec<u8> {
    let mut v = vec![0x48, 0xBF];
    v.extend_from_slice(&value.to_le_bytes());
    v
}

fn guest(parts: &[Vec<u8>]) -> Instance {
    Instance::boot_raw(&kvm(), &parts.concat(), &config()).expect("raw guest")
}

#[test]
fn exit_reports_its_status() {
    let mut g = guest(&[mov_rdi(7), out(0x1010)]);
    assert_eq!(g.run().unwrap(), Event::Exited(7));
    assert_eq!(g.exit_status(), Some(7));
    assert!(matches!(g.run(), Err(Error::State("exited"))), "an exited instance runs no more");
}

#[test]
fn unknown_ports_halts_and_endless_loops_end_the_instance() {
    let mut g = guest(&[out(0x3000)]);
    let e = g.run().unwrap_err();
    assert!(matches!(&e, Error::Crash { what, rip } if what.contains("0x3000") && *rip > RAM_BASE), "{e}");
    assert!(g.has_failed());
    assert!(matches!(g.run(), Err(Error::State("failed"))));

    let e = guest(&[vec![0xF4]]).run().unwrap_err(); // hlt
    assert!(e.to_string().contains("halted"), "{e}");

    let mut g = Instance::boot_raw(&kvm(), &[0xEB, 0xFE], &Config { timeout: Duration::from_millis(300), ..config() }).unwrap();
    assert!(matches!(g.run(), Err(Error::Timeout(_))), "jmp $ is stopped at the deadline");
}

#[test]
fn parameters_outside_ram_are_a_violation_naming_the_call() {
    for port in [0x2040u16, 0x2020, 0x1030, 0x1100] {
        let mut g = guest(&[mov_rdi(RAM_BASE - 8), out(port)]);
        let e = g.run().unwrap_err();
        assert!(matches!(e, Error::Hypercall { .. }), "port {port:#x}: {e}");
        assert!(e.to_string().contains("outside guest RAM"), "{e}");
    }
}

#[test]
fn an_ask_call_must_offer_the_full_buffer() {
    let mut g = guest(&[mov_rdi(PARAMS), out(0x2010)]);
    g.vm.ram.write(PARAMS, &BufferParams { buf: BUFFER, cap: 4096, ..Default::default() }).unwrap();
    let e = g.run().unwrap_err();
    assert!(e.to_string().contains("NextInvocation") && e.to_string().contains("requires"), "{e}");
}

#[test]
fn invoke_completes_the_parked_call_and_the_guest_reads_it() {
    // Park in NextInvocation; once resumed, exit with the args length the host wrote
    // (`mov rax, [rdi + 16]; mov rdi, rax`).
    let resume = vec![0x48, 0x8B, 0x47, 0x10, 0x48, 0x89, 0xC7];
    let mut g = guest(&[mov_rdi(PARAMS), out(0x2010), resume, out(0x1010)]);
    g.vm.ram.write(PARAMS, &BufferParams { buf: BUFFER, cap: MAX_PAYLOAD as u64, ..Default::default() }).unwrap();
    assert_eq!(g.run().unwrap(), Event::WantsInvocation);
    assert!(matches!(g.run(), Err(Error::State(_))), "a parked call must be completed first");
    assert!(matches!(g.provide_source(Some("x")), Err(Error::State(_))), "it is not waiting for a source");
    assert!(matches!(g.invoke("{not json"), Err(Error::Config(_))), "args are checked before the guest sees them");
    let args = r#"{"name":"Ada"}"#;
    let o = g.invoke(args).unwrap();
    assert_eq!(o.event, Event::Exited(args.len() as i32));
    assert_eq!(g.vm.ram.slice(BUFFER, args.len() as u64).unwrap(), args.as_bytes());
}

#[test]
fn a_result_that_is_not_one_json_value_becomes_an_error_result() {
    let text = b"{\"id\":1}\n{\"id\":2}";
    let mut g = guest(&[mov_rdi(PARAMS), out(0x2020)]);
    g.vm.ram.slice_mut(BUFFER, text.len() as u64).unwrap().copy_from_slice(text);
    g.vm.ram.write(PARAMS, &ResultParams { buf: BUFFER, len: text.len() as u64, is_error: 0, _pad: 0 }).unwrap();
    assert_eq!(g.run().unwrap(), Event::Returned);
    let r = g.last_result().unwrap();
    assert!(r.starts_with(r#"{"error":"the function's result is not JSON"#), "{r}");
    assert!(!r.contains('\n'));
}

#[test]
fn only_clones_can_be_reset() {
    let mut g = guest(&[vec![0xF4]]);
    assert!(matches!(g.reset(), Err(Error::State(_))));
}

#[test]
fn pages_written_twice_in_a_row_stay_writable_up_to_the_cap() {
    let mut h = super::HotSet::default();
    assert_eq!(h.update(&[1, 2, 3]), (0, vec![1, 2, 3]), "written once: protected again");
    assert_eq!(h.update(&[2, 3, 4]), (2, vec![4]), "2 and 3 twice in a row: hot");
    assert_eq!(h.update(&[2, 3, 5]), (2, vec![5]), "hot pages are never protected");
    let many: Vec<u64> = (100..100 + 2 * super::HOT_SET_PAGES as u64).collect();
    h.update(&many);
    let (hot, protect) = h.update(&many);
    assert_eq!(hot, super::HOT_SET_PAGES, "the hot set is capped");
    assert_eq!(protect.len(), many.len() + 2 - super::HOT_SET_PAGES);
}
