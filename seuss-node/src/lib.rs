//! `seuss_node`: the serverless node behind `seuss serve`. It speaks OpenWhisk's REST API (the
//! subset the official clients use) or, in action-proxy mode, OpenWhisk's action-runtime
//! protocol, and runs every activation on a copy-on-write clone of a function snapshot
//! through the hypervisor library (`seuss_hv`).
//!
//! # The request path (REST mode)
//!
//! ```text
//! client ──HTTP──► axum (tokio, 2 threads) ── api/ ──────────────────────────────────────────┐
//!   PUT  actions/NAME   auth ─► body checks ─► js_source::check ─► store: code file ─► Prepare job
//!   POST actions/NAME   auth ─► params + __OW_* env ─► namespace permit ─► Invoke job          │
//!   GET  activations/.. auth ─► activation store                                              │
//!                                                                                             ▼
//!                      scheduler: bounded queue (429 when full) ─► worker threads (VM work only)
//!                        worker: idle reset clone (hot) | cached snapshot (clone)
//!                                | snapshot file (load, verified) | runtime clone + import (warm)
//!                        invoke ─► done(): activation record, metrics, reply ─► reset ─► pool
//!                                                                                             │
//! client ◄── 200/502 record, 202 {activationId} (non-blocking, or blocking wait over) ◄───────┘
//! ```
//!
//! In action-proxy mode (`/init`, `/run`) the same scheduler runs the one action the invoker
//! initialised; see `api/action_proxy.rs` for the protocol.
//!
//! # State directory
//!
//! ```text
//! STATE/auth.key                  UUID:KEY of namespace `guest` (generated once, mode 0600)
//! STATE/keys                      optional: NAMESPACE UUID:KEY per line
//! STATE/runtimes/<image>-<MiB>MiB.snap   runtime snapshots (one per runtime image and memory size)
//! STATE/actions/<ns>/<name>/      action.json, code-<hash>.js, function-<hash>-<runtime>.snap
//! STATE/proxy/                    action-proxy mode's function snapshots
//! STATE/activations.jsonl         activation records, written when the node drains
//! ```
//!
//! # What the REST API covers
//!
//! Actions (create/update, get, list, delete, invoke: blocking, non-blocking, result only),
//! activations (list, get, result, logs) and the namespaces list, with OpenWhisk's paths,
//! queries, bodies, status codes and error messages. Not covered, each answered with a clear
//! error: packages (`pkg/action` names), sequences and blackbox actions (`exec.kind`), zip or
//! tar.gz actions (base64 `code`); triggers, rules and web actions have no routes (404).
//!
//! # Modules
//!
//! | module | concern |
//! |---|---|
//! | [`config`] | [`NodeConfig`] and the node's limits |
//! | [`node`] | start, serve, drain ([`run`]) |
//! | `api` | HTTP routes: REST, action proxy, `/healthz`, `/metrics` |
//! | [`auth`] | keys and Basic authentication |
//! | [`model`] | the action entity and its create/update checks |
//! | [`source`] | the guest source: code + glue (entry point, init env), host-side syntax check |
//! | [`store`] | actions on disk and their index |
//! | [`function`] | what the scheduler needs to start an action's instances |
//! | [`runtime`] | runtime snapshots per image and memory size |
//! | [`cache`] | loaded function snapshots under the memory budget (LRU) |
//! | [`scheduler`] | the queue, the workers, clone pools, namespace limits, draining |
//! | [`invocation`] | args (`__OW_*` env, default parameters) and results (statuses, logs) |
//! | [`activations`] | activation records with bounded retention |
//! | [`metrics`] | Prometheus metrics |
//! | [`names`] | OpenWhisk's names and ids |
//! | [`state`] | what handlers share |

#![warn(missing_docs)]

pub mod activations;
mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod function;
pub mod invocation;
pub mod metrics;
pub mod model;
pub mod names;
pub mod node;
pub mod runtime;
pub mod scheduler;
pub mod source;
pub mod state;
pub mod store;

pub use api::SENTINEL;
pub use config::NodeConfig;
pub use node::{run, NodeError, Ready};
