//! The seller's book of keys sold, and its rule for a key request.
//!
//! A buyer pays into its channel to the seller; what the channel has paid
//! in all (the payee's best proof) less the prices of the keys sold over
//! it is the buyer's credit. A key is sold when the credit covers the
//! epoch's price, and the sale is recorded (durably, by the caller) before
//! the key is sent: a restarted seller asks the same book, so it never
//! sells one epoch twice to one buyer and never hands out a key that was
//! not paid for. A buyer that asks again for an epoch it bought gets the
//! key again for nothing; a payment that did not cover a price stays as
//! credit for the next request.
//!
//! A sale's bytes (what the caller's log stores): `stream [32] | buyer [32]
//! | channel [32] | epoch u64 | price u64`.

use alloc::collections::BTreeMap;

use super::StreamId;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::channel::ChannelId;
use crate::encoding::{DecodeError, Reader, Writer};

/// Bytes of one encoded sale.
pub const SALE_BYTES: usize = 32 * 3 + 8 + 8;

/// One key sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sale {
    pub stream: StreamId,
    pub buyer: AccountId,
    /// The channel that paid for it.
    pub channel: ChannelId,
    pub epoch: u64,
    pub price: Amount,
}

impl Sale {
    pub fn encode(&self) -> [u8; SALE_BYTES] {
        let mut out = [0u8; SALE_BYTES];
        let mut w = Writer::over(&mut out);
        w.hash(&self.stream.0)
            .account(&self.buyer)
            .hash(&self.channel.0)
            .u64(self.epoch)
            .amount(self.price);
        w.finish().expect("a sale has a fixed size");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Sale, DecodeError> {
        let mut r = Reader::new(bytes);
        let sale = Sale {
            stream: StreamId(r.hash("stream")?),
            buyer: r.account("buyer")?,
            channel: ChannelId(r.hash("channel")?),
            epoch: r.u64("epoch")?,
            price: r.amount("price")?,
        };
        r.finish("sale")?;
        Ok(sale)
    }
}

/// What to do with a key request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The buyer bought this epoch before: send the key again, free.
    Again,
    /// Record this sale, then send the key.
    Sell(Sale),
    /// The credit does not cover the price: nothing is sold.
    Short { credit: Amount, price: Amount },
}

/// What a request asks for, as the seller has checked it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    pub stream: StreamId,
    pub buyer: AccountId,
    pub epoch: u64,
    pub price: Amount,
    /// The buyer's channel to the seller, and all it has paid (accepted).
    pub channel: ChannelId,
    pub paid: Amount,
}

/// Every sale, and what each channel has spent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SalesBook {
    sold: BTreeMap<(StreamId, AccountId, u64), Amount>,
    spent: BTreeMap<ChannelId, Amount>,
}

impl SalesBook {
    /// A book holding `sales`, in the order they were made. A sale recorded
    /// twice (a log replayed after a crash between append and sync) counts
    /// once.
    pub fn from_sales(sales: impl IntoIterator<Item = Sale>) -> SalesBook {
        let mut book = SalesBook::default();
        for sale in sales {
            book.record(&sale);
        }
        book
    }

    /// Whether `buyer` bought `epoch` of `stream`.
    pub fn bought(&self, stream: &StreamId, buyer: &AccountId, epoch: u64) -> bool {
        self.sold.contains_key(&(*stream, *buyer, epoch))
    }

    /// Whether `buyer` bought any epoch of `stream`.
    pub fn has_buyer(&self, stream: &StreamId, buyer: &AccountId) -> bool {
        self.sold
            .range((*stream, *buyer, 0)..=(*stream, *buyer, u64::MAX))
            .next()
            .is_some()
    }

    /// What `channel` has spent on keys.
    pub fn spent(&self, channel: &ChannelId) -> Amount {
        self.spent.get(channel).copied().unwrap_or(Amount::ZERO)
    }

    /// Keys sold in all.
    pub fn len(&self) -> usize {
        self.sold.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sold.is_empty()
    }

    /// Every sale of `stream`, by buyer: epochs and money.
    pub fn per_buyer(&self, stream: &StreamId) -> BTreeMap<AccountId, (u64, Amount)> {
        let mut out: BTreeMap<AccountId, (u64, Amount)> = BTreeMap::new();
        for ((s, buyer, _), price) in &self.sold {
            if s == stream {
                let e = out.entry(*buyer).or_insert((0, Amount::ZERO));
                e.0 = e.0.saturating_add(1);
                e.1 = e.1.checked_add(*price).unwrap_or(Amount::MAX);
            }
        }
        out
    }

    /// The rule: again if bought, sold if the credit covers the price.
    pub fn decide(&self, ask: &Ask) -> Decision {
        if self.bought(&ask.stream, &ask.buyer, ask.epoch) {
            return Decision::Again;
        }
        let credit = ask
            .paid
            .checked_sub(self.spent(&ask.channel))
            .unwrap_or(Amount::ZERO);
        if credit < ask.price {
            return Decision::Short {
                credit,
                price: ask.price,
            };
        }
        Decision::Sell(Sale {
            stream: ask.stream,
            buyer: ask.buyer,
            channel: ask.channel,
            epoch: ask.epoch,
            price: ask.price,
        })
    }

    /// Adds a sale; one already in the book changes nothing.
    pub fn record(&mut self, sale: &Sale) {
        let key = (sale.stream, sale.buyer, sale.epoch);
        if self.sold.contains_key(&key) {
            return;
        }
        self.sold.insert(key, sale.price);
        let spent = self.spent.entry(sale.channel).or_insert(Amount::ZERO);
        *spent = spent.checked_add(sale.price).unwrap_or(Amount::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash32;

    fn ask(buyer: u8, channel: u8, epoch: u64, paid: u64) -> Ask {
        Ask {
            stream: StreamId(Hash32([1; 32])),
            buyer: AccountId([buyer; 32]),
            epoch,
            price: Amount::new(20),
            channel: ChannelId(Hash32([channel; 32])),
            paid: Amount::new(paid),
        }
    }

    fn sell(book: &mut SalesBook, a: &Ask) -> Decision {
        let d = book.decide(a);
        if let Decision::Sell(sale) = d {
            book.record(&sale);
        }
        d
    }

    #[test]
    fn a_key_is_sold_once_per_epoch_against_credit_and_given_again_free() {
        let mut book = SalesBook::default();
        assert_eq!(
            sell(&mut book, &ask(7, 1, 0, 19)),
            Decision::Short {
                credit: Amount::new(19),
                price: Amount::new(20)
            }
        );
        assert!(matches!(
            sell(&mut book, &ask(7, 1, 0, 20)),
            Decision::Sell(_)
        ));
        assert_eq!(sell(&mut book, &ask(7, 1, 0, 20)), Decision::Again);
        // The channel's 20 is spent: epoch 1 needs 20 more.
        assert!(matches!(
            sell(&mut book, &ask(7, 1, 1, 30)),
            Decision::Short { credit, .. } if credit == Amount::new(10)
        ));
        assert!(matches!(
            sell(&mut book, &ask(7, 1, 1, 40)),
            Decision::Sell(_)
        ));
        assert_eq!(book.spent(&ChannelId(Hash32([1; 32]))), Amount::new(40));
        assert!(book.has_buyer(&StreamId(Hash32([1; 32])), &AccountId([7; 32])));
        assert!(!book.has_buyer(&StreamId(Hash32([1; 32])), &AccountId([8; 32])));
        assert_eq!(book.len(), 2);
    }

    #[test]
    fn a_replayed_log_counts_each_sale_once_and_sales_round_trip() {
        let sale = Sale {
            stream: StreamId(Hash32([1; 32])),
            buyer: AccountId([7; 32]),
            channel: ChannelId(Hash32([2; 32])),
            epoch: 3,
            price: Amount::new(20),
        };
        let book = SalesBook::from_sales([sale, sale]);
        assert_eq!(book.len(), 1);
        assert_eq!(book.spent(&sale.channel), Amount::new(20));
        assert_eq!(Sale::decode(&sale.encode()), Ok(sale));
        assert!(Sale::decode(&sale.encode()[..SALE_BYTES - 1]).is_err());
    }
}
