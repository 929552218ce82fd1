//! The canonical binary encoding's reader and writer, and its decode errors.
//!
//! All integers are fixed-width little-endian; variable-length fields carry a
//! length prefix whose width docs/wire.md gives per field. Decoding is strict:
//! every byte must be consumed, every length must be within its limit, and
//! there is exactly one encoding of every value, so that hashes and signatures
//! over the bytes are well defined.

use crate::prelude::*;

use thiserror::Error;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::hash::Hash32;
use crate::keys::Signature;

/// Why bytes are not a canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("input ended while reading {what}")]
    Truncated { what: &'static str },
    #[error("{count} unexpected bytes after the end of the {what}")]
    TrailingBytes { what: &'static str, count: usize },
    #[error("{what} is {len} bytes long; the limit is {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion { what: &'static str, version: u8 },
    #[error("unknown transaction kind 0x{0:02x}")]
    UnknownKind(u8),
    #[error("invalid value for {what}")]
    InvalidValue { what: &'static str },
}

impl DecodeError {
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
            DecodeError::TooLong { .. } => "too_long",
            DecodeError::UnsupportedVersion { .. } => "unsupported_version",
            DecodeError::UnknownKind(_) => "unknown_kind",
            DecodeError::InvalidValue { .. } => "invalid_value",
        }
    }
}

/// Where a [`Writer`] puts its bytes: a growing `Vec` on hosts, or a
/// caller's fixed buffer ([`SliceSink`]) on firmware that cannot allocate.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A caller's buffer. A write past its end is not made but counted, so that
/// [`SliceSink::finish`] can say how long the buffer needed to be.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    /// Bytes written or, after an overflow, that would have been.
    len: usize,
}

/// The caller's buffer was too short for what was to be written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the buffer holds {have} bytes and {need} are needed")]
pub struct BufferTooSmall {
    pub need: usize,
    pub have: usize,
}

impl BufferTooSmall {
    pub fn code(&self) -> &'static str {
        "buffer_too_small"
    }
}

impl<'a> SliceSink<'a> {
    pub fn new(buf: &'a mut [u8]) -> SliceSink<'a> {
        SliceSink { buf, len: 0 }
    }

    /// How many bytes were written, or how many the buffer lacked room for.
    pub fn finish(self) -> Result<usize, BufferTooSmall> {
        if self.len <= self.buf.len() {
            Ok(self.len)
        } else {
            Err(BufferTooSmall {
                need: self.len,
                have: self.buf.len(),
            })
        }
    }
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }
}

/// Appends canonical fields to a byte buffer (by default a `Vec`).
#[derive(Debug, Default)]
pub struct Writer<S: Sink = Vec<u8>> {
    buf: S,
}

impl Writer {
    /// Empties the writer and keeps its buffer, for encoding many values in turn.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn with_capacity(n: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

impl<'a> Writer<SliceSink<'a>> {
    /// A writer into the caller's buffer, for code that must not allocate.
    pub fn over(buf: &'a mut [u8]) -> Writer<SliceSink<'a>> {
        Writer {
            buf: SliceSink::new(buf),
        }
    }

    /// The length written, or by how much the buffer was too short.
    pub fn finish(self) -> Result<usize, BufferTooSmall> {
        self.buf.finish()
    }
}

impl<S: Sink> Writer<S> {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.put(&[v]);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.put(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.put(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.put(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.put(v);
        self
    }
    /// A `u8` length prefix then the bytes; callers check the field's limit first.
    pub fn bytes_u8(&mut self, v: &[u8]) -> &mut Self {
        let len = u8::try_from(v.len()).expect("length checked against its limit");
        self.u8(len).bytes(v)
    }
    /// A `u16` length prefix then the bytes; callers check the field's limit first.
    pub fn bytes_u16(&mut self, v: &[u8]) -> &mut Self {
        let len = u16::try_from(v.len()).expect("length checked against its limit");
        self.u16(len).bytes(v)
    }
    /// A count that must fit in `u16`; callers check the collection's limit first.
    pub fn count_u16(&mut self, n: usize) -> &mut Self {
        self.u16(u16::try_from(n).expect("count checked against its limit"))
    }
    /// A count that must fit in `u32`; callers check the collection's limit first.
    pub fn count_u32(&mut self, n: usize) -> &mut Self {
        self.u32(u32::try_from(n).expect("count checked against its limit"))
    }
    pub fn account(&mut self, v: &AccountId) -> &mut Self {
        self.bytes(&v.0)
    }
    pub fn amount(&mut self, v: Amount) -> &mut Self {
        self.u64(v.base_units())
    }
    pub fn hash(&mut self, v: &Hash32) -> &mut Self {
        self.bytes(&v.0)
    }
    pub fn signature(&mut self, v: &Signature) -> &mut Self {
        self.bytes(&v.0)
    }
}

/// Reads canonical fields from a byte slice, front to back.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated { what });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub fn account(&mut self, what: &'static str) -> Result<AccountId, DecodeError> {
        Ok(AccountId(self.array(what)?))
    }
    pub fn amount(&mut self, what: &'static str) -> Result<Amount, DecodeError> {
        Ok(Amount::new(self.u64(what)?))
    }
    pub fn hash(&mut self, what: &'static str) -> Result<Hash32, DecodeError> {
        Ok(Hash32(self.array(what)?))
    }
    pub fn signature(&mut self, what: &'static str) -> Result<Signature, DecodeError> {
        Ok(Signature(self.array(what)?))
    }

    /// Reads a `u8` length prefix then that many bytes, refusing more than `max`.
    pub fn bytes_u8(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u8(what)?);
        self.limited(len, what, max)
    }

    /// Reads a `u16` length prefix then that many bytes, refusing more than `max`.
    pub fn bytes_u16(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u16(what)?);
        self.limited(len, what, max)
    }

    fn limited(
        &mut self,
        len: usize,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        if len > max {
            return Err(DecodeError::TooLong { what, len, max });
        }
        self.take(len, what)
    }

    /// Succeeds only if every byte was consumed.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                what,
                count: self.rest.len(),
            })
        }
    }
}
