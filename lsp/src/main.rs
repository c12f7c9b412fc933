//! `iotrules-lsp`: the language server, speaking LSP over standard input and output.

use tower_lsp_server::Server;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (service, socket) = iotrules_lsp::service();
    Server::new(tokio::io::stdin(), tokio::io::stdout(), socket).serve(service).await;
}
