//! Argument types and checks shared by the commands: sizes in uhyve's syntax, seconds, the
//! invocation args, the image kind a command needs.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use seuss_hv::{Image, ImageKind};

use crate::usage;

/// Guest memory, as uhyve takes it: `-m`, `--memory-size` (uhyve's name; `--memory` also
/// works) or `HERMIT_MEMORY_SIZE`, in uhyve's size syntax (the `byte-unit` crate, as uhyve:
/// `256MiB`, `1GiB`, `268435456`; `M`/`G` are powers of 1000).
#[derive(clap::Args, Clone, Debug)]
pub struct MemoryArg {
    /// Guest memory, e.g. 256MiB or 1GiB (a multiple of 2 MiB, 16 MiB to 64 GiB).
    #[arg(short = 'm', long = "memory-size", visible_alias = "memory", env = "HERMIT_MEMORY_SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub memory: u64,
}

/// Parses a size the way uhyve does, then applies our limits with a message that says which.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bytes = byte_unit::Byte::from_str(s.trim())
        .map_err(|e| format!("{s:?} is not a size ({e}); examples: 256MiB, 1GiB, 268435456"))?
        .as_u64();
    seuss_hv::check_memory(bytes).map_err(|e| {
        let decimal = s.trim().trim_end_matches(['B', 'b']).ends_with(['K', 'M', 'G', 'T', 'k']);
        if decimal {
            format!("{e} ({s} means powers of 1000 in uhyve's syntax; did you mean {}iB?)", s.trim().trim_end_matches('B'))
        } else {
            e
        }
    })?;
    Ok(bytes)
}

/// A positive number of seconds.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let t: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    match Duration::try_from_secs_f64(t) {
        Ok(d) if t > 0.0 => Ok(d),
        _ => Err(format!("must be a positive number of seconds, not {s}")),
    }
}

/// Where an invocation's args come from.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ArgsSource {
    /// Invocation args (JSON). For a function image they may instead follow `--`, as with
    /// stock uhyve.
    #[arg(long, conflicts_with = "args_file")]
    pub args: Option<String>,
    /// Read the args from a file (for payloads beyond the command-line limit).
    #[arg(long)]
    pub args_file: Option<PathBuf>,
}

impl ArgsSource {
    /// The args text and the name of where it came from, validated before any VM exists.
    /// `after_dashes` is the first argument after `--` (uhyve's style), if the command has one.
    pub fn resolve(&self, after_dashes: Option<&str>) -> Result<String> {
        let (text, from) = match (&self.args, &self.args_file, after_dashes) {
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                usage!("args are given twice: use --args (or --args-file) or the argument after `--`, not both")
            }
            (Some(a), None, None) => (a.clone(), "--args".to_owned()),
            (None, Some(f), None) => (
                std::fs::read_to_string(f).with_context(|| format!("--args-file: reading {}", f.display()))?,
                format!("--args-file {}", f.display()),
            ),
            (None, None, Some(a)) => (a.to_owned(), "the argument after `--`".to_owned()),
            (None, None, None) => ("{}".to_owned(), String::new()),
            (Some(_), Some(_), None) => unreachable!("clap refuses --args with --args-file"),
        };
        if let Err(e) = seuss_hv::check_args(&text) {
            usage!("{from}: {e}");
        }
        Ok(text)
    }
}

/// Loads an image and checks it is of the kind the command needs, with a message saying what
/// to pass instead.
pub fn image_of_kind(path: &Path, want: &[ImageKind], flag: &str) -> Result<Image> {
    if !path.exists() {
        usage!("{flag}{}: no such file", path.display());
    }
    let image = Image::from_file(path)?;
    let kind = image.kind();
    if want.contains(&kind) {
        return Ok(image);
    }
    let p = path.display();
    match kind {
        ImageKind::Runtime if flag.is_empty() && want == [ImageKind::Function] => usage!(
            "{p} is a runtime image (no function built in): capture it with `seuss snapshot --runtime {p} -o runtime.snap`, \
             then take function snapshots with `seuss snapshot --from runtime.snap --function fn.js -o fn.snap`"
        ),
        ImageKind::Runtime => usage!(
            "{p} is a runtime image (no function built in): pass it as `--runtime {p} --function fn.js`"
        ),
        ImageKind::Function => usage!(
            "{p} already holds a function: run it without --runtime (a runtime image comes from \
             `cargo xtask build-image --runtime -o runtime.img`)"
        ),
        ImageKind::Program => usage!("{p} is a plain program, not a JS function image ({flag}needs one)"),
    }
}

/// The guest's network: user-mode with an egress allowlist (the default, nothing allowed), or a
/// host tap interface.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct NetArgs {
    /// Let the function reach these destinations (deny by default): HOST[:PORT] entries,
    /// comma-separated or repeated; HOST is a name, an IPv4 address or host.seuss.internal
    /// (the host's 127.0.0.1); '*' allows everything.
    #[arg(long = "allow-net", value_name = "HOST[:PORT],...")]
    pub allow_net: Vec<String>,
    /// Network through a host tap interface instead (as stock uhyve): tap:NAME.
    #[arg(long, value_name = "tap:NAME", conflicts_with = "allow_net")]
    pub net: Option<String>,
    /// No network device at all.
    #[arg(long, conflicts_with_all = ["allow_net", "net"])]
    pub no_net: bool,
}

impl NetArgs {
    /// The network mode these flags ask for.
    pub fn mode(&self) -> Result<seuss_hv::NetMode> {
        if self.no_net {
            return Ok(seuss_hv::NetMode::None);
        }
        if let Some(net) = &self.net {
            let Some(name) = net.strip_prefix("tap:") else { usage!("--net {net:?}: expected tap:NAME") };
            return Ok(seuss_hv::NetMode::Tap(name.to_owned()));
        }
        let mut policy = seuss_hv::EgressPolicy::default();
        for v in &self.allow_net {
            match v.parse::<seuss_hv::EgressPolicy>() {
                Ok(p) => policy.extend(&p),
                Err(e) => usage!("{e}"),
            }
        }
        Ok(seuss_hv::NetMode::User(policy))
    }
}

/// `KEY=VALUE` pairs.
pub fn parse_env(pairs: &[String]) -> Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for kv in pairs {
        let Some((k, v)) = kv.split_once('=') else { usage!("-e {kv:?} is not KEY=VALUE") };
        env.push((k.to_owned(), v.to_owned()));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_uhyve() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("268435456"), Ok(256 << 20));
        let e = parse_size("256M").unwrap_err();
        assert!(e.contains("did you mean 256MiB"), "{e}");
        assert!(parse_size("1TiB").unwrap_err().contains("64 GiB"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
    }

    #[test]
    fn args_are_checked_before_boot_and_named() {
        let a = ArgsSource { args: Some("{bad".into()), args_file: None };
        let e = a.resolve(None).unwrap_err().to_string();
        assert!(e.starts_with("--args: args are not one JSON value"), "{e}");
        let e = ArgsSource::default().resolve(Some("{")).unwrap_err().to_string();
        assert!(e.starts_with("the argument after `--`"), "{e}");
        assert_eq!(ArgsSource::default().resolve(Some(r#"{"a":"\ud800"}"#)).unwrap(), r#"{"a":"\ud800"}"#);
        let both = ArgsSource { args: Some("{}".into()), args_file: None };
        assert!(both.resolve(Some("{}")).is_err());
    }
}
