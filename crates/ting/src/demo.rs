//! `ting demo`: a dev node with a small live economy.

use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: std::net::SocketAddr,
}

pub fn run(_args: &DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("being written")
}
