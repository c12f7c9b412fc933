//! `iotrules-lsp`: the language server, speaking LSP over standard input and output.

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("iotrules-lsp: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (service, socket) = iotrules_lsp::service();
    let ending =
        runtime.block_on(iotrules_lsp::framing::serve(tokio::io::stdin(), tokio::io::stdout(), service, socket));
    // tokio reads standard input on a blocking thread that nothing can cancel: waiting for a
    // read still pending there would keep the process alive until the client wrote again.
    runtime.shutdown_background();
    ending.exit_code()
}
