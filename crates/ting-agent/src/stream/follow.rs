//! Following a bought stream until enough points came or time is up: the
//! loop `ting stream buy` and the Python package share. It hands the
//! [`Buyer`] every chunk, key grant and key refusal the device receives, and
//! asks again (free) for keys the seller left unanswered, once a second.

use std::time::Duration;

use tokio::time::Instant;

use super::{Bought, Buyer, BuyerError};
use crate::device::channels::ChannelOffer;
use crate::device::{Device, Message};
use ting_core::limits::CHAIN_LEN_MAX;
use ting_core::stream::keyx::KeyRefusal;
use ting_core::stream::StreamId;
use ting_core::{AccountId, Amount, ChannelId, Timestamp};

/// How often requests the seller left unanswered go again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long a channel opened to buy a stream stays open: a week.
const CHANNEL_OPEN_MS: u64 = 7 * 86_400_000;
/// Bytes of a stream's `channel` file read back: a channel id and a newline.
const CHANNEL_FILE_BYTES_MAX: u64 = 128;
/// How often [`settle`] looks whether the broker took the subscription.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// When following stops.
#[derive(Clone, Copy, Debug)]
pub struct Until {
    pub deadline: Instant,
    /// Stop once this many points are held (counting earlier runs'), if set.
    pub points: Option<usize>,
}

/// Waits until the broker has taken the device's stream subscriptions, or
/// the deadline. Answers whether it did.
pub async fn settle(device: &Device, deadline: Instant) -> bool {
    while !device.streams_settled() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
    true
}

/// Feeds `buyer` what `device` receives and appends the points it opens to
/// `held`, until `until` or the device stops. Each refusal goes to
/// `on_refusal` (for the app's log) before the buyer takes it; messages
/// that are not the stream's go to `other`, for the app.
pub async fn follow(
    device: &mut Device,
    buyer: &mut Buyer,
    held: &mut Vec<Bought>,
    until: Until,
    mut on_refusal: impl FnMut(&KeyRefusal),
    mut other: impl FnMut(Message),
) -> Result<(), BuyerError> {
    let enough = |held: &Vec<Bought>| until.points.is_some_and(|n| held.len() >= n);
    while !enough(held) {
        let m = tokio::select! {
            m = device.recv() => m,
            _ = tokio::time::sleep(RETRY_EVERY) => {
                buyer.tick(device).await?;
                continue;
            }
            _ = tokio::time::sleep_until(until.deadline) => return Ok(()),
        };
        let opened = match m {
            Some(Message::Chunk { bytes, .. }) => buyer.on_chunk(device, &bytes).await?,
            Some(Message::KeyGrant { from, grant }) => buyer.on_grant(device, from, &grant).await?,
            Some(Message::KeyRefusal { from, refusal }) => {
                on_refusal(&refusal);
                buyer.on_refusal(device, from, &refusal).await?;
                Vec::new()
            }
            Some(m) => {
                other(m);
                Vec::new()
            }
            None => return Ok(()),
        };
        held.extend(opened);
    }
    Ok(())
}

/// The channel this device pays `stream` through (one per stream: a seller
/// counts credit per channel), kept in the stream's directory as
/// `channel`; a new one to `seller` holding `deposit` (1 a tick) the first
/// time, written and synced once the ledger holds it.
pub async fn channel_for(
    device: &Device,
    stream: &StreamId,
    seller: AccountId,
    deposit: Amount,
) -> Result<ChannelId, BuyerError> {
    let dir = device.stream_dir(stream);
    let path = dir.join("channel");
    let io = |op| move |source| BuyerError::Io { op, source };
    match std::fs::metadata(&path) {
        Ok(meta) if meta.len() > CHANNEL_FILE_BYTES_MAX => {
            return Err(BuyerError::BadChannelFile(path));
        }
        Ok(_) => {
            let text = std::fs::read_to_string(&path).map_err(io("read the channel file"))?;
            return ChannelId::from_hex(text.trim()).ok_or(BuyerError::BadChannelFile(path));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("read the channel file")(e)),
    }
    let ticks = u32::try_from(deposit.base_units())
        .unwrap_or(u32::MAX)
        .min(CHAIN_LEN_MAX);
    let offer = ChannelOffer {
        payee: seller,
        deposit,
        price: Amount::new(1),
        ticks,
        expires_at: Timestamp(device.now().0.saturating_add(CHANNEL_OPEN_MS)),
    };
    let channel = device.open_channel(offer).await?;
    std::fs::create_dir_all(&dir).map_err(io("create the stream directory"))?;
    std::fs::write(&path, format!("{}\n", channel.to_hex()))
        .map_err(io("write the channel file"))?;
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .map_err(io("sync the channel file"))?;
    Ok(channel)
}
