//! Serving uhyve's hypercalls: console output, the guest's files, exit.

use super::{Instance, State};
use crate::error::Error;
use crate::files::errno;
use crate::memory::MemError;
use crate::outcome::Event;
use crate::uhyve_calls::{out, UhyveCall, FILE_ATTR_SIZE};

impl Instance {
    /// Serves a decoded uhyve call; `Some(event)` when `run()` must return (Exit).
    pub(super) fn serve_uhyve(&mut self, call: UhyveCall, rip: u64) -> Result<Option<Event>, Error> {
        let name = call.name();
        let mem = |e: MemError| Error::Hypercall { call: name, detail: e.to_string(), rip };
        let ram = &mut self.vm.ram;
        match call {
            UhyveCall::Exit(code) => {
                self.state = State::Exited(code);
                return Ok(Some(Event::Exited(code)));
            }
            UhyveCall::SerialWriteByte(b) => self.output.write(1, &[b]),
            UhyveCall::SerialWriteBuffer { buf, len } => self.output.write(1, ram.slice(buf, len).map_err(mem)?),
            UhyveCall::FileWrite { params, fd, buf, len } => {
                let bytes = ram.slice(buf, len).map_err(mem)?;
                let ret = match fd {
                    1 | 2 => {
                        self.output.write(fd, bytes);
                        len as i64
                    }
                    _ => self.files.write(fd, bytes),
                };
                ram.write(params + out::RW_RET, &ret).map_err(mem)?;
            }
            UhyveCall::FileRead { params, fd, buf, len } => {
                let dst = ram.slice_mut(buf, len).map_err(mem)?;
                let ret = if fd == 0 { 0 } else { self.files.read(fd, dst) };
                ram.write(params + out::RW_RET, &ret).map_err(mem)?;
            }
            UhyveCall::FileOpen { params, path, flags, mode } => {
                let ret = match path {
                    Some(path) => self.files.open(&path, flags, mode),
                    None => -errno::EINVAL,
                };
                ram.write(params + out::OPEN_RET, &ret).map_err(mem)?;
            }
            UhyveCall::FileClose { params, fd } => {
                let ret = self.files.close(fd);
                ram.write(params + out::CLOSE_RET, &ret).map_err(mem)?;
            }
            UhyveCall::FileLseek { params, fd, offset, whence } => {
                let ret = self.files.lseek(fd, offset, whence);
                ram.write(params + out::LSEEK_RET, &ret).map_err(mem)?;
            }
            UhyveCall::FileUnlink { params, path } => {
                let ret = match path {
                    Some(path) => self.files.unlink(&path),
                    None => -errno::EINVAL,
                };
                ram.write(params + out::UNLINK_RET, &ret).map_err(mem)?;
            }
            UhyveCall::FileFstat { params, fd, attr } => {
                let (tag, err) = match self.files.fstat(fd) {
                    Ok((mode, size, mtime, ino)) => {
                        let bytes = file_attr_bytes(mode, size, mtime, ino);
                        ram.slice_mut(attr, FILE_ATTR_SIZE).map_err(mem)?.copy_from_slice(&bytes);
                        (1u32, 0i32)
                    }
                    Err(code) => (2, code),
                };
                ram.write(params + out::FSTAT_RET, &tag).map_err(mem)?;
                ram.write(params + out::FSTAT_RET + 4, &err).map_err(mem)?;
            }
        }
        Ok(None)
    }
}

/// `FileAttr` as bytes, field by field, so no uninitialised padding leaves the host.
fn file_attr_bytes(mode: u32, size: i64, mtime: i64, ino: u64) -> [u8; FILE_ATTR_SIZE as usize] {
    use std::mem::offset_of;
    use uhyve_interface::v2::parameters::{FileAttr, Timespec};
    let mut b = [0u8; FILE_ATTR_SIZE as usize];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(offset_of!(FileAttr, st_ino), &ino.to_le_bytes());
    put(offset_of!(FileAttr, st_nlink), &1u64.to_le_bytes());
    put(offset_of!(FileAttr, st_mode), &mode.to_le_bytes());
    put(offset_of!(FileAttr, st_size), &size.to_le_bytes());
    put(offset_of!(FileAttr, st_blksize), &4096i64.to_le_bytes());
    put(offset_of!(FileAttr, st_blocks), &((size + 511) / 512).to_le_bytes());
    put(offset_of!(FileAttr, st_mtim) + offset_of!(Timespec, tv_sec), &mtime.to_le_bytes());
    b
}
