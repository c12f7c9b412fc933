//! Structured logs on standard error for the long-running commands, filtered by
//! `IOTRULES_LOG` (tracing's `EnvFilter` syntax, such as `debug` or `iotrules=trace`).

use tracing_subscriber::EnvFilter;

/// iotrules' own progress; only problems from the libraries (Cranelift logs every function
/// it compiles at `info`; the embedded broker logs every dropped connection as an error).
const DEFAULT: &str = "warn,iotrules=info,rumqttd=off";

pub(crate) fn init() {
    let filter = EnvFilter::try_from_env("IOTRULES_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    let json = std::env::var("IOTRULES_LOG_FORMAT").is_ok_and(|format| format == "json");
    // Colours only for a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // Already set (a second call) is harmless: the first subscriber stays.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
