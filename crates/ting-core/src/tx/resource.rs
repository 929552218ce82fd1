//! The encoding of the resource kinds (docs/wire.md §18): class
//! registration, order placement and cancellation, lease settlement and
//! closing.
//!
//! `class_register`: `name (u8 len) | unit (u8 len) | lease_ms u64 |
//! delivery u8`; `order_place`: order terms; `order_cancel`: `order [32]`;
//! `lease_settle`: `lease [32] | count u64 | signature [64]`;
//! `lease_close`: `lease [32] | flag u8 (1: count u64 | signature [64])`.

use super::kind::{
    TAG_CLASS_REGISTER, TAG_LEASE_CLOSE, TAG_LEASE_SETTLE, TAG_ORDER_CANCEL, TAG_ORDER_PLACE,
};
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::resource::{LeaseId, OrderId, OrderTerms, ResourceClass};
use crate::tx::TxKind;

/// Appends a resource kind's tag and fields; any other kind is a bug.
pub(super) fn encode<S: Sink>(kind: &TxKind, w: &mut Writer<S>) {
    match kind {
        TxKind::ClassRegister {
            name,
            unit,
            lease_ms,
        } => {
            assert!(
                crate::resource::class::check_definition(name, unit, *lease_ms).is_ok(),
                "a class is checked before signing"
            );
            w.u8(TAG_CLASS_REGISTER);
            ResourceClass::encode_definition(w, name, unit, *lease_ms);
        }
        TxKind::OrderPlace { terms } => {
            assert!(
                terms.check().is_ok(),
                "order terms are checked before signing"
            );
            w.u8(TAG_ORDER_PLACE);
            terms.encode(w);
        }
        TxKind::OrderCancel { order } => {
            w.u8(TAG_ORDER_CANCEL).hash(&order.0);
        }
        TxKind::LeaseSettle {
            lease,
            count,
            signature,
        } => {
            w.u8(TAG_LEASE_SETTLE)
                .hash(&lease.0)
                .u64(*count)
                .signature(signature);
        }
        TxKind::LeaseClose { lease, count } => {
            w.u8(TAG_LEASE_CLOSE).hash(&lease.0);
            match count {
                None => w.u8(0),
                Some((count, signature)) => w.u8(1).u64(*count).signature(signature),
            };
        }
        other => unreachable!("{} is not a resource kind", other.name()),
    }
}

/// Reads the fields of the resource kind tagged `tag`.
pub(super) fn decode(tag: u8, r: &mut Reader<'_>) -> Result<TxKind, DecodeError> {
    Ok(match tag {
        TAG_CLASS_REGISTER => {
            let (name, unit, lease_ms) = ResourceClass::decode_definition(r)?;
            TxKind::ClassRegister {
                name,
                unit,
                lease_ms,
            }
        }
        TAG_ORDER_PLACE => TxKind::OrderPlace {
            terms: OrderTerms::decode(r)?,
        },
        TAG_ORDER_CANCEL => TxKind::OrderCancel {
            order: OrderId(r.hash("order")?),
        },
        TAG_LEASE_SETTLE => TxKind::LeaseSettle {
            lease: LeaseId(r.hash("lease")?),
            count: r.u64("count")?,
            signature: r.signature("count signature")?,
        },
        TAG_LEASE_CLOSE => TxKind::LeaseClose {
            lease: LeaseId(r.hash("lease")?),
            count: match r.u8("count flag")? {
                0 => None,
                1 => Some((r.u64("count")?, r.signature("count signature")?)),
                _ => return Err(DecodeError::InvalidValue { what: "count flag" }),
            },
        },
        _ => return Err(DecodeError::UnknownKind(tag)),
    })
}
