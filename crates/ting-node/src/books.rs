//! A class's order book as market data: depth by price level and the last
//! fills, in the one JSON shape the API (`GET /v1/books/{class}`,
//! docs/api.md §6.17) and the MQTT book topics (docs/mqtt.md §5.3) share.
//!
//! Market data is not proved: the book is an index over resting orders,
//! not a record of the state map, and the fills are kept in memory only. A
//! client acts on an order or a lease it has read with its proof
//! (`/v1/orders/{id}?proof=true`, `/v1/leases/{id}?proof=true`).
//!
//! Depth counts only orders that have not expired at the state's last
//! block time: an expired order still rests until a placement or a cancel
//! ends it, but it can no longer fill.

use serde_json::{json, Value};
use ting_api::resource::level_json;
use ting_core::resource::{Order, OrderId, Side};
use ting_core::BlockHeight;
use ting_ledger::{State as Ledger, Trade};

use crate::node::Shared;

/// Price levels per side when the client does not say.
pub const BOOK_LEVELS_DEFAULT: usize = 10;
/// Most price levels per side one answer shows.
pub const BOOK_LEVELS_MAX: usize = 50;

/// One fill as market data shows it.
pub fn trade_json(t: &Trade) -> Value {
    json!({
        "at_ms": t.at.0,
        "price": t.price.base_units(),
        "units": t.units,
        "taker": t.taker.name(),
        "lease": t.lease.to_hex(),
    })
}

/// Class `name`'s book at `st`'s last block time: `{class, at_ms, height,
/// bids, asks, last_trades}`, with up to `levels` price levels a side (best
/// first) and up to `trades` fills (newest first). `None` when no class of
/// that name is registered; a registered class with no order has empty
/// sides. Read under the state's lock.
pub fn book_json(st: &Ledger, name: &str, levels: usize, trades: usize) -> Option<Value> {
    st.class(name)?;
    let at = st.last_timestamp();
    let side = |side: Side| -> Vec<Value> {
        st.book(name).map_or_else(Vec::new, |book| {
            book.depth(side, at, levels, |id| order_of(st, id))
                .iter()
                .map(level_json)
                .collect()
        })
    };
    // At most `BOOK_TRADES_KEPT` (64) are kept, oldest first.
    let kept: Vec<&Trade> = st.trades(name).collect();
    let last: Vec<Value> = kept
        .iter()
        .rev()
        .take(trades)
        .map(|t| trade_json(t))
        .collect();
    Some(json!({
        "class": name,
        "at_ms": at.0,
        "height": st.height().0,
        "bids": side(Side::Bid),
        "asks": side(Side::Ask),
        "last_trades": last,
    }))
}

/// The height that must be durable before what `st` shows may be told:
/// its tip, or the block after it while the executor has a block open
/// (whose transactions `st` already includes). Read under the state's lock.
pub(crate) fn visible_height(s: &Shared, st: &Ledger) -> BlockHeight {
    let open = s
        .ingress
        .load()
        .block_open
        .load(std::sync::atomic::Ordering::Acquire);
    BlockHeight(st.height().0 + u64::from(open))
}

fn order_of<'a>(st: &'a Ledger, id: &OrderId) -> &'a Order {
    st.order(id).expect("a book indexes only resting orders")
}
