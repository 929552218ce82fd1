//! JSON forms of the resource kinds (class registration, orders, leases),
//! both directions, and of classes, orders, leases, depth and trades as the
//! node shows them (docs/api.md §4, §6.16–6.18).
//!
//! Parsed as strictly as the bytes decode: unknown fields are refused and
//! the records' own rules (class name, unit, price times quantity) are
//! checked here, so a form that parses encodes to a transaction the ledger
//! can take.

use serde::Deserialize;
use serde_json::{json, Value as Json};
use ting_core::resource::book::Level;
use ting_core::resource::class::check_definition;
use ting_core::resource::{Lease, LeaseId, Order, OrderId, OrderTerms, ResourceClass, Side};
use ting_core::{Amount, Signature, Timestamp, TxKind};

use crate::tx::fields;
use crate::{field_err, parse_hash, parse_hex_array, FormError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassJson {
    name: String,
    unit: String,
    lease_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderJson {
    class: String,
    side: String,
    price: u64,
    quantity: u64,
    expires_at: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderOnly {
    order: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountJson {
    lease: String,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    signature: Option<String>,
}

/// Parses an order id named `field`.
pub fn parse_order(field: &str, text: &str) -> Result<OrderId, FormError> {
    parse_hash(field, text).map(OrderId)
}

/// Parses a lease id named `field`.
pub fn parse_lease(field: &str, text: &str) -> Result<LeaseId, FormError> {
    parse_hash(field, text).map(LeaseId)
}

fn parse_order_terms(f: OrderJson) -> Result<OrderTerms, FormError> {
    let side = Side::from_name(&f.side).ok_or_else(|| field_err("side", "is bid or ask"))?;
    let terms = OrderTerms {
        class: f.class,
        side,
        price: Amount::new(f.price),
        quantity: f.quantity,
        expires_at: Timestamp(f.expires_at),
    };
    terms
        .check()
        .map_err(|e| FormError::new("invalid_order", e.0))?;
    Ok(terms)
}

fn parse_count(f: &CountJson) -> Result<Option<(u64, Signature)>, FormError> {
    match (f.count, &f.signature) {
        (Some(count), Some(sig)) => {
            Ok(Some((count, Signature(parse_hex_array("signature", sig)?))))
        }
        (None, None) => Ok(None),
        _ => Err(field_err(
            "count",
            "a count and its signature come together",
        )),
    }
}

/// The resource kind named `kind` from its JSON fields; `None` if `kind`
/// is not a resource kind.
pub fn kind_from_json(kind: &str, v: &Json) -> Option<Result<TxKind, FormError>> {
    let parsed = match kind {
        "class_register" => fields::<ClassJson>(kind, v).and_then(|f| {
            check_definition(&f.name, &f.unit, f.lease_ms)
                .map_err(|e| FormError::new("invalid_class", e.0))?;
            Ok(TxKind::ClassRegister {
                name: f.name,
                unit: f.unit,
                lease_ms: f.lease_ms,
            })
        }),
        "order_place" => fields::<OrderJson>(kind, v)
            .and_then(parse_order_terms)
            .map(|terms| TxKind::OrderPlace { terms }),
        "order_cancel" => fields::<OrderOnly>(kind, v).and_then(|f| {
            Ok(TxKind::OrderCancel {
                order: parse_order("order", &f.order)?,
            })
        }),
        "lease_settle" => fields::<CountJson>(kind, v).and_then(|f| {
            let lease = parse_lease("lease", &f.lease)?;
            let (count, signature) =
                parse_count(&f)?.ok_or_else(|| field_err("count", "a settlement needs a count"))?;
            Ok(TxKind::LeaseSettle {
                lease,
                count,
                signature,
            })
        }),
        "lease_close" => fields::<CountJson>(kind, v).and_then(|f| {
            Ok(TxKind::LeaseClose {
                lease: parse_lease("lease", &f.lease)?,
                count: parse_count(&f)?,
            })
        }),
        _ => return None,
    };
    Some(parsed)
}

/// An order's terms in JSON, the shape `order_place` takes.
pub fn order_terms_json(t: &OrderTerms) -> Json {
    json!({
        "class": t.class,
        "side": t.side.name(),
        "price": t.price.base_units(),
        "quantity": t.quantity,
        "expires_at": t.expires_at.0,
    })
}

/// The JSON fields of a resource kind; `None` for other kinds.
pub fn kind_to_json(kind: &TxKind) -> Option<Json> {
    Some(match kind {
        TxKind::ClassRegister {
            name,
            unit,
            lease_ms,
        } => json!({ "name": name, "unit": unit, "lease_ms": lease_ms }),
        TxKind::OrderPlace { terms } => order_terms_json(terms),
        TxKind::OrderCancel { order } => json!({ "order": order.to_hex() }),
        TxKind::LeaseSettle {
            lease,
            count,
            signature,
        } => json!({
            "lease": lease.to_hex(),
            "count": count,
            "signature": signature.to_hex(),
        }),
        TxKind::LeaseClose { lease, count } => {
            let mut v = json!({ "lease": lease.to_hex() });
            if let Some((count, signature)) = count {
                v["count"] = json!(count);
                v["signature"] = json!(signature.to_hex());
            }
            v
        }
        _ => return None,
    })
}

/// A resource class as the API shows it.
pub fn class_json(c: &ResourceClass) -> Json {
    json!({
        "name": c.name,
        "unit": c.unit,
        "lease_ms": c.lease_ms,
        "delivery": c.delivery.name(),
        "orders_placed": c.orders_placed,
        "traded": c.traded,
        "last_price": c.last_price.base_units(),
        "last_trade_at_ms": c.last_trade_at.0,
    })
}

/// A resting order as the API shows it.
pub fn order_json(id: &OrderId, o: &Order) -> Json {
    json!({
        "order": id.to_hex(),
        "owner": o.owner.to_did(),
        "seq": o.seq,
        "placed_at_ms": o.placed_at.0,
        "remaining": o.remaining,
        "fills": o.fills,
        "deposit": o.deposit.base_units(),
        "terms": order_terms_json(&o.terms),
    })
}

/// An open lease as the API shows it.
pub fn lease_json(id: &LeaseId, l: &Lease) -> Json {
    json!({
        "lease": id.to_hex(),
        "buyer": l.buyer.to_did(),
        "provider": l.provider.to_did(),
        "class": l.class,
        "price": l.price.base_units(),
        "quantity": l.quantity,
        "delivered": l.delivered,
        "started_at_ms": l.started_at.0,
        "ends_at_ms": l.ends_at.0,
    })
}

/// One price level of a book's depth.
pub fn level_json(l: &Level) -> Json {
    json!({ "price": l.price.base_units(), "units": l.units, "orders": l.orders })
}
