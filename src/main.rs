use clap::Parser;
use sylk_gateway::config::{Cli, Command, Config};
use sylk_gateway::server::Hooks;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let command = cli.command.clone();
    let config = match Config::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sylk-gateway: configuration error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = match command {
        None => return serve(config),
        Some(Command::CheckConfig) => sylk_gateway::tools::check_config(&config)
            .map(|()| "configuration OK".to_string())
            .map_err(|e| (2, format!("configuration error: {e:#}"))),
        Some(Command::PrintConfig) => toml::to_string(&config).map_err(|e| (1, e.to_string())),
        Some(command) => {
            sylk_gateway::tools::admin_command(&config, &command).map_err(|e| (1, format!("{e:#}")))
        }
    };
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            std::process::ExitCode::SUCCESS
        }
        Err((code, text)) => {
            eprintln!("sylk-gateway: {text}");
            std::process::ExitCode::from(code)
        }
    }
}

/// The log filter for `config`: RUST_LOG, when set, stands for `log_level` (the usual way to
/// turn on debug logs); `log_level` was validated already, RUST_LOG is checked here.
fn log_directives(config: &Config) -> Result<tracing_subscriber::EnvFilter, String> {
    let directives = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => config.log_filter_from(&v),
        _ => config.log_filter(),
    };
    tracing_subscriber::EnvFilter::try_new(&directives).map_err(|e| format!("RUST_LOG: {e}"))
}

fn serve(config: Config) -> std::process::ExitCode {
    let filter = match log_directives(&config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sylk-gateway: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // SIGHUP sets a new filter through the reload handle.
    let set_filter: sylk_gateway::server::LogFilterSetter = if config.log_format == "json" {
        // One JSON object per line, for log collectors.
        let logs = tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .with_filter_reloading();
        let handle = logs.reload_handle();
        logs.init();
        Box::new(move |c| handle.reload(log_directives(c)?).map_err(|e| e.to_string()))
    } else {
        let logs = tracing_subscriber::fmt()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .with_filter_reloading();
        let handle = logs.reload_handle();
        logs.init();
        Box::new(move |c| handle.reload(log_directives(c)?).map_err(|e| e.to_string()))
    };
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
    let hooks = Hooks {
        // The same command line, environment and (possibly edited) file as at start.
        reload_config: Box::new(|| Config::from_cli(Cli::parse())),
        set_log_filter: set_filter,
    };
    match runtime.block_on(sylk_gateway::server::serve(config, hooks)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("sylk-gateway: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
