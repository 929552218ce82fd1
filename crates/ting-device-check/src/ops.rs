//! The operations a device needs, each a function of the fixtures and the
//! iteration number, answering whether it did what it should. Which of them
//! the binary holds is chosen by features (`all-ops`, or one `op-*`), so that
//! the code size of each can be measured alone.

use core::hint::black_box;

use ting_core::envelope::Envelope;
use ting_core::login::LoginToken;
use ting_core::receipt::check_receipt_bytes;
use ting_core::seal;
use ting_core::state_proof::{check_account_bytes, StateCheck};
use ting_core::{Amount, BlockHeight, Keypair, Timestamp};

use crate::fixtures::{Fixtures, READING};

/// One operation: its name and what it runs.
pub struct Op {
    #[cfg_attr(target_os = "none", allow(dead_code))]
    pub name: &'static str,
    pub run: fn(&mut Fixtures, usize) -> bool,
}

macro_rules! ops {
    ($($feature:literal => $name:literal => $f:ident,)*) => {
        /// Every operation this build holds.
        pub const OPS: &[Op] = &[
            $(
                #[cfg(any(feature = "all-ops", feature = $feature))]
                Op { name: $name, run: $f },
            )*
        ];
    };
}

ops! {
    "op-keypair" => "keypair" => keypair,
    "op-sign-tx" => "sign_tx" => sign_tx,
    "op-tick-pay" => "tick_pay" => tick_pay,
    "op-tick-accept" => "tick_accept" => tick_accept,
    "op-voucher-sign" => "voucher_sign" => voucher_sign,
    "op-voucher-check" => "voucher_check" => voucher_check,
    "op-envelope-sign" => "envelope_sign" => envelope_sign,
    "op-envelope-check" => "envelope_check" => envelope_check,
    "op-seal" => "seal" => seal_reading,
    "op-open" => "open" => open_reading,
    "op-verify-receipt" => "verify_receipt" => verify_receipt,
    "op-verify-state" => "verify_state" => verify_state,
    "op-login-token" => "login_token" => login_token,
}

/// The operation called `name`, if this build holds it.
#[cfg(target_os = "linux")]
pub fn find(name: &[u8]) -> Option<&'static Op> {
    OPS.iter().find(|op| op.name.as_bytes() == name)
}

/// Derives a key pair (the account id) from its 32-byte seed.
#[allow(dead_code)]
fn keypair(_: &mut Fixtures, i: usize) -> bool {
    let mut seed = [7u8; 32];
    seed[0] = i as u8;
    black_box(Keypair::from_seed(black_box(seed))).account().0 != [0; 32]
}

/// Signs a transfer into the caller's buffer: no allocation.
#[allow(dead_code)]
fn sign_tx(f: &mut Fixtures, _: usize) -> bool {
    let body = black_box(&f.body);
    body.sign_into(&f.device, &mut f.tx_buf).is_ok()
}

/// The payer reveals the next tick of the hash chain: no allocation.
#[allow(dead_code)]
fn tick_pay(f: &mut Fixtures, _: usize) -> bool {
    black_box(f.payer.pay_ticks(1, Timestamp(1))).is_ok()
}

/// The payee checks a tick against the chain and takes it.
#[allow(dead_code)]
fn tick_accept(f: &mut Fixtures, i: usize) -> bool {
    match black_box(&f.payments).get(i) {
        Some(payment) => f.payee.accept(payment, Timestamp(1)).is_ok(),
        None => false,
    }
}

/// Signs a voucher for a cumulative amount.
#[allow(dead_code)]
fn voucher_sign(f: &mut Fixtures, i: usize) -> bool {
    let amount = Amount::new(10 + i as u64);
    let proof = ting_core::channel::sign_voucher(&f.device, f.network, &f.channel, amount);
    black_box(proof);
    true
}

/// Checks a voucher's signature.
#[allow(dead_code)]
fn voucher_check(f: &mut Fixtures, _: usize) -> bool {
    match f.voucher {
        ting_core::ChannelProof::Voucher { amount, signature } => {
            ting_core::channel::verify_voucher(
                &f.device.account(),
                f.network,
                &f.channel,
                amount,
                &signature,
            )
            .is_ok()
        }
        _ => false,
    }
}

/// Signs an envelope around a reading and encodes it for publishing.
#[allow(dead_code)]
fn envelope_sign(f: &mut Fixtures, _: usize) -> bool {
    match Envelope::sign(f.envelope_header, READING.into(), &f.device) {
        Ok(envelope) => !black_box(envelope.encode()).is_empty(),
        Err(_) => false,
    }
}

/// Decodes an envelope and checks its signature.
#[allow(dead_code)]
fn envelope_check(f: &mut Fixtures, _: usize) -> bool {
    match Envelope::decode(black_box(&f.envelope_bytes)) {
        Ok(envelope) => envelope.verify().is_ok() && envelope.header.sender == f.device.account(),
        Err(_) => false,
    }
}

/// Seals a reading to the peer's messaging key (HPKE).
#[allow(dead_code)]
fn seal_reading(f: &mut Fixtures, _: usize) -> bool {
    seal::seal(&f.peer_messaging, b"aad", READING, &mut f.rng).is_ok()
}

/// Opens a sealed reading with the messaging secret.
#[allow(dead_code)]
fn open_reading(f: &mut Fixtures, _: usize) -> bool {
    match seal::open(&f.peer_secret, b"aad", black_box(&f.sealed)) {
        Ok(plain) => plain == READING,
        Err(_) => false,
    }
}

/// Checks a receipt's bytes in place: header signature and Merkle path.
#[allow(dead_code)]
fn verify_receipt(f: &mut Fixtures, _: usize) -> bool {
    check_receipt_bytes(black_box(&f.receipt), &f.genesis, &f.sequencers).is_ok()
}

/// Checks a state answer's bytes in place for the device's own account.
#[allow(dead_code)]
fn verify_state(f: &mut Fixtures, _: usize) -> bool {
    let check = StateCheck {
        genesis: &f.genesis,
        sequencers: &f.sequencers,
        min_height: BlockHeight(1),
    };
    matches!(
        check_account_bytes(black_box(&f.state_answer), &f.device.account(), &check),
        Ok(state) if state.record.is_some()
    )
}

/// Signs the MQTT login token.
#[allow(dead_code)]
fn login_token(f: &mut Fixtures, i: usize) -> bool {
    let token = LoginToken::issue(
        &f.device,
        &f.genesis,
        "meter-7",
        Timestamp(1_764_800_000_000 + i as u64),
        [9; 16],
    );
    black_box(token.to_bytes());
    true
}
