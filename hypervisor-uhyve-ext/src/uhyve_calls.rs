//! uhyve's hypercalls (interface v2), decoded once into [`UhyveCall`].
//!
//! A hypercall is an `out` to a port with `rdi` = guest-physical address of its parameter
//! struct (or the value itself for `Exit`). [`UhyveCall::decode`] reads every input field of
//! that struct through the bounds-checked [`GuestRam`] accessors, at the offsets
//! `uhyve-interface` defines (`offset_of!`, no hand-written numbers), and checks the inputs
//! that must be valid before anything is done (paths are NUL-terminated UTF-8, buffers lie in
//! RAM). Serving the call, and writing its outputs back, is the instance's job
//! (`instance/uhyve_serve.rs`).

use std::mem::offset_of;

use uhyve_interface::v2::parameters::{
    CloseParams, FstatParams, LseekParams, OpenParams, ReadParams, SerialWriteBufferParams, UnlinkParams, WriteParams,
};
use uhyve_interface::v2::HypercallAddress as Port;

use crate::memory::{GuestRam, MemError};

/// Longest path a guest may pass, in bytes before the NUL.
pub const MAX_PATH: u64 = 4096;

/// A decoded uhyve hypercall. `params` is the guest-physical address of the parameter struct,
/// where outputs are written back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UhyveCall {
    /// End the guest with this status.
    Exit(i32),
    /// One byte to the serial console (stdout).
    SerialWriteByte(u8),
    /// `[buf, buf + len)` to the serial console (stdout).
    SerialWriteBuffer {
        /// Guest address of the bytes (checked to lie in RAM).
        buf: u64,
        /// Their number.
        len: u64,
    },
    /// `write(fd, buf, len)`; the result goes to `ret`.
    FileWrite {
        /// Parameter struct.
        params: u64,
        /// Descriptor.
        fd: i32,
        /// Guest address of the bytes (checked to lie in RAM).
        buf: u64,
        /// Their number.
        len: u64,
    },
    /// `read(fd, buf, len)`; the result goes to `ret`.
    FileRead {
        /// Parameter struct.
        params: u64,
        /// Descriptor.
        fd: i32,
        /// Guest address of the buffer (checked to lie in RAM).
        buf: u64,
        /// Its size.
        len: u64,
    },
    /// `open(path, flags, mode)`; `path` is `None` when it is not valid text.
    FileOpen {
        /// Parameter struct.
        params: u64,
        /// The path, if it is NUL-terminated UTF-8 of at most [`MAX_PATH`] bytes.
        path: Option<String>,
        /// Open flags (Linux values).
        flags: i32,
        /// Creation mode.
        mode: i32,
    },
    /// `close(fd)`.
    FileClose {
        /// Parameter struct.
        params: u64,
        /// Descriptor.
        fd: i32,
    },
    /// `lseek(fd, offset, whence)`; the new offset replaces `offset`.
    FileLseek {
        /// Parameter struct.
        params: u64,
        /// Descriptor.
        fd: i32,
        /// Offset.
        offset: i64,
        /// SEEK_SET / SEEK_CUR / SEEK_END.
        whence: u32,
    },
    /// `unlink(path)`.
    FileUnlink {
        /// Parameter struct.
        params: u64,
        /// The path, as for [`UhyveCall::FileOpen`].
        path: Option<String>,
    },
    /// `fstat(fd, attr)`.
    FileFstat {
        /// Parameter struct.
        params: u64,
        /// Descriptor.
        fd: i32,
        /// Guest address of the `FileAttr` to fill (checked to lie in RAM).
        attr: u64,
    },
}

/// Why a uhyve hypercall could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a uhyve port.
    #[error("write to unknown I/O port {0:#x}")]
    UnknownPort(u16),
    /// A uhyve call this hypervisor does not serve.
    #[error("hypercall {0} is not supported by this hypervisor")]
    Unsupported(&'static str),
    /// A parameter lies outside guest RAM.
    #[error("{call}: {source}")]
    Memory {
        /// The call.
        call: &'static str,
        /// The range.
        source: MemError,
    },
}

/// Size of uhyve's `FileAttr` (the Hermit ABI's `struct stat`).
pub const FILE_ATTR_SIZE: u64 = size_of::<uhyve_interface::v2::parameters::FileAttr>() as u64;

impl UhyveCall {
    /// Decodes the hypercall on `port` with argument `arg` (rdi).
    pub fn decode(port: u16, arg: u64, ram: &GuestRam) -> Result<Self, DecodeError> {
        let call = Port::try_from(u64::from(port)).map_err(|_| DecodeError::UnknownPort(port))?;
        let name = call_name(call);
        let mem = |source| DecodeError::Memory { call: name, source };
        let field_u64 = |off: usize| ram.read::<u64>(arg + off as u64).map_err(mem);
        let field_i32 = |off: usize| ram.read::<i32>(arg + off as u64).map_err(mem);
        let path = |off: usize| -> Result<Option<String>, DecodeError> {
            let gpa = field_u64(off)?;
            Ok(ram.c_str(gpa, MAX_PATH).map_err(mem)?.ok().map(str::to_owned))
        };
        Ok(match call {
            Port::Exit => UhyveCall::Exit(arg as i32),
            Port::SerialWriteByte => UhyveCall::SerialWriteByte(arg as u8),
            Port::SerialWriteBuffer => {
                let len = field_u64(offset_of!(SerialWriteBufferParams, len))?;
                let buf = field_u64(offset_of!(SerialWriteBufferParams, buf))?;
                ram.slice(buf, len).map_err(mem)?;
                UhyveCall::SerialWriteBuffer { buf, len }
            }
            Port::FileWrite | Port::FileRead => {
                // ReadParams has the layout of WriteParams (checked below).
                let len = field_u64(offset_of!(WriteParams, len))?;
                let buf = field_u64(offset_of!(WriteParams, buf))?;
                let fd = field_i32(offset_of!(WriteParams, fd))?;
                ram.slice(buf, len).map_err(mem)?;
                ram.slice(arg + offset_of!(WriteParams, ret) as u64, 8).map_err(mem)?;
                if call == Port::FileWrite {
                    UhyveCall::FileWrite { params: arg, fd, buf, len }
                } else {
                    UhyveCall::FileRead { params: arg, fd, buf, len }
                }
            }
            Port::FileOpen => {
                ram.slice(arg, size_of::<OpenParams>() as u64).map_err(mem)?;
                UhyveCall::FileOpen {
                    params: arg,
                    path: path(offset_of!(OpenParams, name))?,
                    flags: field_i32(offset_of!(OpenParams, flags))?,
                    mode: field_i32(offset_of!(OpenParams, mode))?,
                }
            }
            Port::FileClose => {
                ram.slice(arg, size_of::<CloseParams>() as u64).map_err(mem)?;
                UhyveCall::FileClose { params: arg, fd: field_i32(offset_of!(CloseParams, fd))? }
            }
            Port::FileLseek => UhyveCall::FileLseek {
                params: arg,
                offset: field_u64(offset_of!(LseekParams, offset))? as i64,
                whence: field_i32(offset_of!(LseekParams, whence))? as u32,
                fd: field_i32(offset_of!(LseekParams, fd))?,
            },
            Port::FileUnlink => {
                ram.slice(arg, size_of::<UnlinkParams>() as u64).map_err(mem)?;
                UhyveCall::FileUnlink { params: arg, path: path(offset_of!(UnlinkParams, name))? }
            }
            Port::FileFstat => {
                ram.slice(arg, size_of::<FstatParams>() as u64).map_err(mem)?;
                let fd = field_i32(offset_of!(FstatParams, fd))?;
                let attr = field_u64(offset_of!(FstatParams, attr))?;
                ram.slice(attr, FILE_ATTR_SIZE).map_err(mem)?;
                UhyveCall::FileFstat { params: arg, fd, attr }
            }
            other => return Err(DecodeError::Unsupported(call_name(other))),
        })
    }

    /// The call's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            UhyveCall::Exit(_) => "Exit",
            UhyveCall::SerialWriteByte(_) => "SerialWriteByte",
            UhyveCall::SerialWriteBuffer { .. } => "SerialWriteBuffer",
            UhyveCall::FileWrite { .. } => "FileWrite",
            UhyveCall::FileRead { .. } => "FileRead",
            UhyveCall::FileOpen { .. } => "FileOpen",
            UhyveCall::FileClose { .. } => "FileClose",
            UhyveCall::FileLseek { .. } => "FileLseek",
            UhyveCall::FileUnlink { .. } => "FileUnlink",
            UhyveCall::FileFstat { .. } => "FileFstat",
        }
    }
}

/// Where the outputs of each call go, as offsets into its parameter struct.
pub mod out {
    use super::*;
    /// `ret: i64` of FileWrite / FileRead.
    pub const RW_RET: u64 = offset_of!(WriteParams, ret) as u64;
    /// `ret: i32` of FileOpen.
    pub const OPEN_RET: u64 = offset_of!(OpenParams, ret) as u64;
    /// `ret: i32` of FileClose.
    pub const CLOSE_RET: u64 = offset_of!(CloseParams, ret) as u64;
    /// `offset: i64` of FileLseek (the new offset, or a negative errno).
    pub const LSEEK_RET: u64 = offset_of!(LseekParams, offset) as u64;
    /// `ret: i32` of FileUnlink.
    pub const UNLINK_RET: u64 = offset_of!(UnlinkParams, ret) as u64;
    /// `ret: StatResult` of FileFstat: a `u32` tag (1 ok, 2 error) then an `i32` errno.
    pub const FSTAT_RET: u64 = offset_of!(FstatParams, ret) as u64;
}

fn call_name(call: Port) -> &'static str {
    match call {
        Port::Exit => "Exit",
        Port::SerialWriteByte => "SerialWriteByte",
        Port::SerialWriteBuffer => "SerialWriteBuffer",
        Port::FileWrite => "FileWrite",
        Port::FileRead => "FileRead",
        Port::FileOpen => "FileOpen",
        Port::FileClose => "FileClose",
        Port::FileLseek => "FileLseek",
        Port::FileUnlink => "FileUnlink",
        Port::FileFstat => "FileFstat",
        _ => "an unsupported uhyve call",
    }
}

// ReadParams is decoded with WriteParams' offsets; FstatParams' result is written as a tag and
// an errno. Both facts are checked against uhyve-interface here.
const _: () = {
    assert!(offset_of!(ReadParams, len) == offset_of!(WriteParams, len));
    assert!(offset_of!(ReadParams, ret) == offset_of!(WriteParams, ret));
    assert!(offset_of!(ReadParams, buf) == offset_of!(WriteParams, buf));
    assert!(offset_of!(ReadParams, fd) == offset_of!(WriteParams, fd));
    assert!(size_of::<uhyve_interface::v2::parameters::StatResult>() == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x1000_0000;

    fn ram() -> GuestRam {
        GuestRam::anonymous(BASE, 1 << 20).unwrap()
    }

    #[test]
    fn unknown_ports_and_unsupported_calls_are_refused() {
        let ram = ram();
        assert_eq!(UhyveCall::decode(0x1234, 0, &ram), Err(DecodeError::UnknownPort(0x1234)));
        let port = Port::Mkdir as u16;
        assert!(matches!(UhyveCall::decode(port, BASE, &ram), Err(DecodeError::Unsupported(_))));
    }

    #[test]
    fn write_decodes_its_fields_and_checks_the_buffer() {
        let mut ram = ram();
        let p = BASE + 0x100;
        ram.write(p + offset_of!(WriteParams, len) as u64, &5u64).unwrap();
        ram.write(p + offset_of!(WriteParams, buf) as u64, &(BASE + 0x200)).unwrap();
        ram.write(p + offset_of!(WriteParams, fd) as u64, &2i32).unwrap();
        let call = UhyveCall::decode(Port::FileWrite as u16, p, &ram).unwrap();
        assert_eq!(call, UhyveCall::FileWrite { params: p, fd: 2, buf: BASE + 0x200, len: 5 });
        // A buffer that runs past the end of RAM is a decode error, not a host fault.
        ram.write(p + offset_of!(WriteParams, len) as u64, &u64::MAX).unwrap();
        assert!(matches!(UhyveCall::decode(Port::FileWrite as u16, p, &ram), Err(DecodeError::Memory { .. })));
        // So is a parameter struct outside RAM.
        assert!(matches!(UhyveCall::decode(Port::FileRead as u16, BASE - 8, &ram), Err(DecodeError::Memory { .. })));
    }

    #[test]
    fn paths_must_be_terminated_text() {
        let mut ram = ram();
        let p = BASE + 0x100;
        ram.write(p + offset_of!(OpenParams, name) as u64, &(BASE + 0x400)).unwrap();
        ram.slice_mut(BASE + 0x400, 6).unwrap().copy_from_slice(b"/a.js\0");
        let call = UhyveCall::decode(Port::FileOpen as u16, p, &ram).unwrap();
        assert!(matches!(call, UhyveCall::FileOpen { path: Some(ref s), .. } if s == "/a.js"));
        ram.slice_mut(BASE + 0x400, 3).unwrap().copy_from_slice(b"\xff\xfe\0");
        let call = UhyveCall::decode(Port::FileOpen as u16, p, &ram).unwrap();
        assert!(matches!(call, UhyveCall::FileOpen { path: None, .. }));
    }
}
