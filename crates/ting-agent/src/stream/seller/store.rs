//! The seller's small files beside its logs: the owner's revocation it
//! keeps, and the binding of each channel to the one stream it pays for.
//! Each is written whole or not at all (a temporary file, synced, then
//! renamed or linked into place, and the directory synced).

use ting_core::consent::revocation::SignedRevocation;
use ting_core::stream::StreamId;
use ting_core::Hash32;

use crate::stream::SellerError;

/// The revocation kept in `path`, if any, with the epoch it stops sales from.
pub(super) fn read_revocation(
    path: &std::path::Path,
    genesis: &Hash32,
) -> Result<Option<(u64, SignedRevocation)>, SellerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SellerError::Io {
                op: "read the revocation",
                source,
            })
        }
    };
    let damaged = || SellerError::Consent(format!("{} is damaged", path.display()));
    let (epoch, hex_text) = text.trim().split_once(' ').ok_or_else(damaged)?;
    let epoch = epoch.parse().map_err(|_| damaged())?;
    let bytes = hex::decode(hex_text).map_err(|_| damaged())?;
    let r = SignedRevocation::decode(&bytes, genesis).map_err(|_| damaged())?;
    Ok(Some((epoch, r)))
}

/// Writes `text` to `path` whole or not at all ([`crate::durable`]).
pub(super) fn write_synced(path: &std::path::Path, text: &str) -> Result<(), SellerError> {
    crate::durable::write_synced(path, text.as_bytes()).map_err(|source| SellerError::Io {
        op: "write a file",
        source,
    })
}

/// Binds `channel` to `stream` in `dir` unless it is bound already;
/// answers whether it is bound to `stream`.
pub(super) fn bind_channel(
    dir: &std::path::Path,
    channel: &ting_core::ChannelId,
    stream: &StreamId,
) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(channel.to_hex());
    // Written whole under a temporary name, then linked to its final name,
    // which fails if another stream took the channel first: the name never
    // points at a half-written file.
    let tmp = crate::durable::written_tmp(&path, stream.to_hex().as_bytes())?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            std::fs::File::open(dir)?.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim() == stream.to_hex())
        }
        Err(e) => Err(e),
    }
}
