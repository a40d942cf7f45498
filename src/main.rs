use clap::Parser;
use sylk_gateway::config::{Cli, Config};

fn main() -> std::process::ExitCode {
    let config = match Config::from_cli(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sylk-gateway: configuration error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    // RUST_LOG, when set, stands for `log_level` (the usual way to turn on debug logs);
    // `log_level` was validated above, RUST_LOG is checked here.
    let directives = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => config.log_filter_from(&v),
        _ => config.log_filter(),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&directives) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sylk-gateway: configuration error: RUST_LOG: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        // One JSON object per line, for log collectors.
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    // rustls needs exactly one process-wide crypto provider; an error means one is set already.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sylk-gateway: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sylk_gateway::server::serve(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("sylk-gateway: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
