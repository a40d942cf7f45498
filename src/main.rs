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
    // Validated above, so the filter parses.
    let filter = tracing_subscriber::EnvFilter::new(config.log_filter());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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
