//! The gateway's ask: kept resting in its class, placed again once used up
//! or expired, and after a restart adopted rather than placed twice.

use ting_core::resource::{Order, OrderId, OrderTerms, Side};
use ting_core::{Timestamp, TxKind};

use super::super::RelayError;
use super::{Gateway, GatewayEvent};
use crate::device::{Device, SubmitError};

impl Gateway {
    /// Places an ask when none rests; first adopts one of its own that
    /// rests already (placed before a restart).
    pub(super) async fn keep_ask(
        &mut self,
        device: &Device,
    ) -> Result<Vec<GatewayEvent>, RelayError> {
        if !self.looked_for_ask && self.ask.is_none() {
            if let Some(order) = self.resting_ask(device).await? {
                self.looked_for_ask = true;
                self.ask = Some(order);
                return Ok(vec![GatewayEvent::AskAdopted { order }]);
            }
            self.looked_for_ask = true;
        }
        if let Some(id) = self.ask {
            if device.http().order(&id).await?.is_some() {
                return Ok(Vec::new());
            }
        }
        let price = self.config.price.price(self.open_leases());
        let terms = OrderTerms {
            class: self.config.class.clone(),
            side: Side::Ask,
            price,
            quantity: self.config.units_per_ask,
            expires_at: Timestamp(self.clock.now().0 + self.config.ask_lifetime_ms),
        };
        let ticket = device.queue(TxKind::OrderPlace { terms }).await?;
        let order = OrderId::derive(&self.genesis, &self.me, ticket.nonce);
        ticket.wait().await.map_err(SubmitError::from)?;
        self.ask = Some(order);
        Ok(vec![GatewayEvent::AskPlaced { order, price }])
    }

    /// An ask of this gateway's resting in its class: the node lists the
    /// orders (not proved), and each is read with its proof before it is
    /// believed.
    async fn resting_ask(&self, device: &Device) -> Result<Option<OrderId>, RelayError> {
        let ids = device
            .http()
            .order_ids(&self.me, &self.config.class)
            .await?;
        for id in ids {
            let order = device.http().order(&id).await?;
            if order.is_some_and(|o| self.is_my_ask(&o)) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn is_my_ask(&self, o: &Order) -> bool {
        o.owner == self.me
            && o.terms.side == Side::Ask
            && o.terms.class == self.config.class
            && o.remaining > 0
            && self.clock.now().0 < o.terms.expires_at.0
    }
}
