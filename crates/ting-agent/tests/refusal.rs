//! A refusal that depends on the state is not final: the same signed bytes
//! could still apply until their `valid_until`, unless the nonce is used. A
//! device says so (`until`), keeps a refused channel open's payer file (with
//! the chain's seed) while the open could still apply, and lets it go once
//! its next commit uses that nonce. A refusal no state can change is final.
//!
//! A real Mosquitto, a real node and its gateway, a device of the SDK.

mod common;

use std::sync::Arc;

use common::*;
use ting_agent::clock::now;
use ting_agent::device::{ChannelError, SubmitError, TxError};
use ting_agent::{channel_path, list_channels, ChannelOffer, Role};
use ting_core::{Amount, Timestamp, TxKind};

fn refusal(e: ChannelError) -> TxError {
    match e {
        ChannelError::Submit(SubmitError::Tx(e)) => e,
        other => panic!("expected the ledger's refusal, got {other:?}"),
    }
}

#[test]
fn a_refused_open_keeps_its_payer_file_until_its_nonce_is_used_and_a_final_refusal_does_not() {
    let node_dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _broker = Mosquitto::start(port);
    let node = node(node_dir.path(), &[]);
    let shared = Arc::clone(node.shared());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = serve_http(Arc::clone(&shared)).await;
        let gateway = gateway(Arc::clone(&shared), port).await;
        let payer = mqtt_device(device_key(), state.path(), &url, port).await;
        let offer = |payee: ting_core::AccountId, deposit: u64, price: u64| ChannelOffer {
            payee,
            deposit: Amount::new(deposit),
            price: Amount::new(price),
            ticks: 100,
            expires_at: Timestamp(now().0 + 3_600_000),
        };

        // More than the device holds: refused on today's balance, which may change.
        let err = refusal(
            payer
                .open_channel(offer(recipient(), FUNDS * 2, FUNDS / 50))
                .await
                .expect_err("refused"),
        );
        assert_eq!(err.code(), "insufficient_funds");
        let TxError::Refused { until, .. } = &err else {
            panic!("{err:?}")
        };
        let until = until.expect("it could still apply later");
        assert!(until.0 > now().0, "until its valid_until: {until:?}");
        assert!(!err.is_final());
        let kept = list_channels(state.path(), Role::Payer).expect("list");
        assert_eq!(
            kept.len(),
            1,
            "the payer file stays while the open could apply"
        );
        let path = channel_path(state.path(), Role::Payer, &kept[0]);

        // The device's next transaction takes the refused open's nonce: once it
        // commits, the open can never apply, and the file goes.
        let transfer = TxKind::Transfer {
            to: recipient(),
            amount: Amount::new(1),
            memo: Vec::new(),
        };
        payer.submit(transfer).await.expect("the transfer commits");
        wait_until("the refused open's payer file to go", || !path.exists()).await;

        // A payee whose key can never be an account (the identity point, of
        // small order): no state changes that.
        let mut small_order = [0u8; 32];
        small_order[0] = 1;
        let err = refusal(
            payer
                .open_channel(offer(ting_core::AccountId(small_order), 1_000, 5))
                .await
                .expect_err("refused"),
        );
        assert!(err.is_final(), "{err:?}");
        assert!(
            list_channels(state.path(), Role::Payer)
                .expect("list")
                .is_empty(),
            "no file for a channel that can never exist"
        );

        payer.shutdown().await;
        gateway.shutdown().await;
    });
    node.shutdown();
}
