//! `ting orders ...`: resource classes, order books and leases from the
//! command line (docs/market.md §10; README "Sell bandwidth in five
//! minutes").
//!
//! An issuer registers a class (`register`). A provider asks and a buyer
//! bids (`place`); what crosses fills at the resting order's price and
//! makes a lease. The buyer signs the cumulative count of units it received
//! (`sign-count`, offline); the provider, or anyone, presents it (`settle`)
//! and the provider is paid for the units above the last count; `close`
//! ends a lease and gives what was not delivered back to the buyer.
//! `classes`, `book`, `order`, `mine` and `leases` say where things stand;
//! `order` and `lease` are checked against the ledger's signed state.

mod ledger;
mod read;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum OrdersCmd {
    /// As an issuer KEY, register a resource class that orders may then trade.
    Register(ledger::RegisterArgs),
    /// Registered classes, with their last price and volume.
    Classes(read::ClassesArgs),
    /// A class's book: depth by price, best first, and its last fills.
    Book(read::BookArgs),
    /// Place a limit order as KEY: what crosses fills now, the rest rests until it expires.
    Place(ledger::PlaceArgs),
    /// Cancel a resting order (its owner, or anyone once it expired); what it locks comes back.
    Cancel(ledger::CancelArgs),
    /// One resting order, checked against the ledger's signed state.
    Order(read::OrderArgs),
    /// An account's resting orders.
    Mine(read::MineArgs),
    /// Open leases, by buyer or provider; with an id, one lease checked against the signed state.
    Leases(read::LeasesArgs),
    /// As the buyer KEY, sign the count of units a lease delivered so far (prints the signature).
    SignCount(ledger::SignCountArgs),
    /// Present a buyer's signed count: the provider is paid for the units above the last one.
    Settle(ledger::SettleArgs),
    /// End a lease (the provider at any time, anyone after its end and grace), with a last count.
    Close(ledger::CloseArgs),
}

pub async fn run(cmd: OrdersCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        OrdersCmd::Register(a) => ledger::register(a, json_out).await,
        OrdersCmd::Classes(a) => read::classes(a, json_out).await,
        OrdersCmd::Book(a) => read::book(a, json_out).await,
        OrdersCmd::Place(a) => ledger::place(a, json_out).await,
        OrdersCmd::Cancel(a) => ledger::cancel(a, json_out).await,
        OrdersCmd::Order(a) => read::order(a, json_out).await,
        OrdersCmd::Mine(a) => read::mine(a, json_out).await,
        OrdersCmd::Leases(a) => read::leases(a, json_out).await,
        OrdersCmd::SignCount(a) => ledger::sign_count(a, json_out).await,
        OrdersCmd::Settle(a) => ledger::settle(a, json_out).await,
        OrdersCmd::Close(a) => ledger::close(a, json_out).await,
    }
}
