//! `flow serve`: the project's online feature store and models over HTTP (see the flow-serve crate).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use flow_serve::tls::TlsFiles;
use flow_serve::{Config, Limits, ServeError, Server, Token};

use crate::CliError;
use crate::commands::Context;

/// The environment variable that carries the token, before any file.
const TOKEN_ENV: &str = "FLOW_SERVE_TOKEN";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback makes the store reachable from the network
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: IpAddr,
    /// Port to listen on (0: any free port, printed at start)
    #[arg(long, default_value_t = 8377)]
    pub port: u16,
    /// File holding the bearer token (mode 0600), read when $FLOW_SERVE_TOKEN is unset;
    /// default STATE/serve/token, created on first start
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// How often to look for new feature versions and models, in milliseconds
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub refresh_ms: u64,
    /// PEM certificate chain: serve HTTPS (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Largest request body accepted, in bytes
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_body: usize,
}

pub fn serve_cmd(ctx: &Context, args: &ServeArgs) -> Result<(), CliError> {
    let token_file = args.token_file.as_ref().map(|f| ctx.project_dir.join(f));
    let default_file = ctx.state.root.join("serve").join("token");
    let (token, source) = Token::resolve(TOKEN_ENV, token_file.as_deref(), &default_file).map_err(serve_error)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert: ctx.project_dir.join(cert), key: ctx.project_dir.join(key) }),
        _ => None,
    };
    if !args.bind.is_loopback() && tls.is_none() {
        eprintln!(
            "warning: listening on {} without TLS: the token and every answer cross the network in clear text",
            args.bind
        );
    }
    let config = Config {
        state: ctx.state.clone(),
        addr: SocketAddr::new(args.bind, args.port),
        token,
        refresh: Duration::from_millis(args.refresh_ms.max(10)),
        limits: Limits { max_body_bytes: args.max_body, ..Limits::default() },
        tls,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        // Listening for the signals before saying we serve: a SIGTERM right after that line
        // must stop the server gracefully, not kill it.
        let stop = shutdown_signal()?;
        let server = Server::bind(config).await.map_err(serve_error)?;
        let addr = server.local_addr().map_err(serve_error)?;
        let groups = server.groups();
        let scheme = if server.is_tls() { "https" } else { "http" };
        ctx.note(&format!(
            "serving {} feature group(s){} on {scheme}://{addr} (token {source}); GET /healthz needs no token",
            groups.len(),
            if groups.is_empty() { String::new() } else { format!(" ({})", groups.join(", ")) }
        ));
        for (model, run, digest) in server.models() {
            ctx.note(&format!("model {model}: bundle {} from run {run}", &digest[..12.min(digest.len())]));
        }
        server.run(stop, Duration::from_secs(30)).await.map_err(serve_error)
    })?;
    ctx.note("stopped; requests in flight were answered");
    Ok(())
}

fn serve_error(e: ServeError) -> CliError {
    match e {
        ServeError::Token(_) | ServeError::Bind { .. } | ServeError::Tls(_) => CliError::Usage(e.to_string()),
        ServeError::Io(_) => CliError::Internal(e.to_string()),
    }
}

/// SIGTERM (a service manager) or SIGINT (Ctrl-C), listened for from the moment this returns.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| signal(kind).map_err(|e| CliError::Internal(format!("cannot listen for signals: {e}")));
    let (mut term, mut int) = (listen(SignalKind::terminate())?, listen(SignalKind::interrupt())?);
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
