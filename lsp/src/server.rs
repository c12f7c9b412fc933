//! The protocol side: the open documents, and one handler per request that looks the
//! document up and hands it to the feature modules. Handlers never fail on document content;
//! an unknown document gets an empty answer.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, PoisonError};

use iotrules_compiler::config::{self, Config};
use iotrules_compiler::format_sql;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability, CodeActionResponse,
    CompletionOptions, CompletionParams, CompletionResponse, DidChangeTextDocumentParams, DidChangeWatchedFilesParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams, DocumentFormattingParams,
    DocumentSymbolParams, DocumentSymbolResponse, Hover, HoverParams, HoverProviderCapability, InitializeParams,
    InitializeResult, InitializedParams, OneOf, Position, PositionEncodingKind, Range, Registration,
    ServerCapabilities, ServerInfo, SignatureHelp, SignatureHelpOptions, SignatureHelpParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
};
use tower_lsp_server::{Client, LanguageServer, LspService};

use crate::document::{Document, Kind, Settings};
use crate::{code_action, completion, hover, symbols};

/// The language server: the client to publish diagnostics to, and the open documents.
#[derive(Debug)]
pub struct Backend {
    client: Client,
    documents: Mutex<HashMap<String, Document>>,
    /// Whether the client watches files for the server when asked to.
    watches_files: Mutex<bool>,
}

/// The service an LSP transport drives, and the socket its notifications come out of.
pub fn service() -> (LspService<Backend>, tower_lsp_server::ClientSocket) {
    LspService::new(|client| Backend {
        client,
        documents: Mutex::new(HashMap::new()),
        watches_files: Mutex::new(false),
    })
}

impl Backend {
    /// Runs `f` on the document at `uri`, if it is open. The lock is never held across an
    /// await. A request that panicked despite the lints gets an empty answer instead of
    /// taking the server down, and cannot lock the documents away from the others.
    fn with<T>(&self, uri: &Uri, f: impl FnOnce(&Document) -> T) -> Option<T> {
        let documents = self.documents.lock().unwrap_or_else(PoisonError::into_inner);
        let document = documents.get(uri.as_str())?;
        std::panic::catch_unwind(AssertUnwindSafe(|| f(document))).ok()
    }

    /// The settings of the document at `uri`: from the nearest `iotrules.toml` in its folder or
    /// above (as the editor holds it when it is open, else as saved), as `iotrules check` reads
    /// them; the defaults when there is none, or it has mistakes (which its own diagnostics
    /// show).
    fn settings(&self, uri: &Uri) -> Settings {
        let Some(path) = uri.to_file_path().map(|path| path.into_owned()) else { return Settings::default() };
        for dir in path.ancestors().skip(1) {
            let candidate = dir.join(config::FILE_NAME);
            let open =
                Uri::from_file_path(&candidate).and_then(|uri| self.with(&uri, |document| document.text().to_owned()));
            let text = match open {
                Some(text) => text,
                None => match std::fs::read_to_string(&candidate) {
                    Ok(text) => text,
                    Err(_) => continue,
                },
            };
            return match Config::parse(&text) {
                Ok(config) => Settings::from_config(&config, path.strip_prefix(dir).unwrap_or(&path)),
                Err(_) => Settings::default(),
            };
        }
        Settings::default()
    }

    /// Checks every open document again under the settings now in force, and publishes those
    /// whose diagnostics changed with them.
    async fn reconfigure(&self) {
        let keys: Vec<String> = self.documents.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        for key in keys {
            let Ok(uri) = key.parse::<Uri>() else { continue };
            if Document::is_config(&uri) {
                continue;
            }
            let settings = self.settings(&uri);
            let changed = {
                let mut documents = self.documents.lock().unwrap_or_else(PoisonError::into_inner);
                documents.get_mut(&key).is_some_and(|document| document.configure(settings))
            };
            if changed {
                self.publish(uri, None).await;
            }
        }
    }

    /// An `iotrules.toml` changed on disk: its diagnostics (unless the editor holds it open,
    /// which publishes them as it is edited) and every document's settings.
    async fn config_changed(&self, uri: Uri) {
        let open = self.with(&uri, |_| ()).is_some();
        if !open {
            let saved = uri.to_file_path().and_then(|path| std::fs::read_to_string(path).ok());
            let diagnostics = saved.map(|text| Document::config(text).lsp_diagnostics(&uri)).unwrap_or_default();
            self.client.publish_diagnostics(uri, diagnostics, None).await;
        }
        self.reconfigure().await;
    }

    async fn publish(&self, uri: Uri, version: Option<i32>) {
        if let Some(diagnostics) = self.with(&uri, |document| document.lsp_diagnostics(&uri)) {
            self.client.publish_diagnostics(uri, diagnostics, version).await;
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let watches = params
            .capabilities
            .workspace
            .and_then(|workspace| workspace.did_change_watched_files)
            .and_then(|watched| watched.dynamic_registration)
            .unwrap_or(false);
        *self.watches_files.lock().unwrap_or_else(PoisonError::into_inner) = watches;
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::INCREMENTAL)),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec!["\"".to_owned(), ":".to_owned(), "{".to_owned(), "/".to_owned()]),
                    ..CompletionOptions::default()
                }),
                signature_help_provider: Some(SignatureHelpOptions {
                    trigger_characters: Some(vec!["(".to_owned(), ",".to_owned()]),
                    ..SignatureHelpOptions::default()
                }),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..CodeActionOptions::default()
                })),
                document_symbol_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "iotrules-lsp".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        if !*self.watches_files.lock().unwrap_or_else(PoisonError::into_inner) {
            return;
        }
        // Asked without waiting: a client that is slow to answer must not hold up the
        // documents it opens meanwhile.
        let client = self.client.clone();
        tokio::spawn(async move {
            let watchers = serde_json::json!({"watchers": [{"globPattern": format!("**/{}", config::FILE_NAME)}]});
            let registration = Registration {
                id: "iotrules-toml".to_owned(),
                method: "workspace/didChangeWatchedFiles".to_owned(),
                register_options: Some(watchers),
            };
            if let Err(error) = client.register_capability(vec![registration]).await {
                eprintln!("iotrules-lsp: the client does not watch `{}`: {error}", config::FILE_NAME);
            }
        });
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let item = params.text_document;
        let config = Document::is_config(&item.uri);
        let document = if config {
            Document::config(item.text)
        } else {
            let json = Document::is_json(&item.uri, Some(&item.language_id));
            let mut document = Document::new(item.text, json);
            document.configure(self.settings(&item.uri));
            document
        };
        self.documents.lock().unwrap_or_else(PoisonError::into_inner).insert(item.uri.as_str().to_owned(), document);
        self.publish(item.uri, Some(item.version)).await;
        if config {
            self.reconfigure().await;
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        {
            let mut documents = self.documents.lock().unwrap_or_else(PoisonError::into_inner);
            let document = documents
                .entry(uri.as_str().to_owned())
                .or_insert_with(|| Document::new(String::new(), Document::is_json(&uri, None)));
            document.apply(params.content_changes);
        }
        self.publish(uri.clone(), Some(params.text_document.version)).await;
        if Document::is_config(&uri) {
            self.reconfigure().await;
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        if Document::is_config(&params.text_document.uri) {
            self.reconfigure().await;
        }
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let mut configs: Vec<Uri> =
            params.changes.into_iter().map(|change| change.uri).filter(Document::is_config).collect();
        configs.dedup();
        for uri in configs {
            self.config_changed(uri).await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.documents.lock().unwrap_or_else(PoisonError::into_inner).remove(uri.as_str());
        self.client.publish_diagnostics(uri.clone(), Vec::new(), None).await;
        if Document::is_config(&uri) {
            // The settings are the saved file's again.
            self.reconfigure().await;
        }
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = params.text_document_position_params;
        Ok(self.with(&at.text_document.uri, |document| hover::hover(document, document.offset(at.position))).flatten())
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let at = params.text_document_position;
        let items = self
            .with(&at.text_document.uri, |document| completion::completions(document, document.offset(at.position)));
        Ok(items.filter(|items| !items.is_empty()).map(CompletionResponse::Array))
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let at = params.text_document_position_params;
        Ok(self
            .with(&at.text_document.uri, |document| completion::signature_help(document, document.offset(at.position)))
            .flatten())
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        let fixes = self.with(&uri, |document| code_action::quick_fixes(document, &uri, params.range));
        Ok(fixes.filter(|fixes| !fixes.is_empty()))
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        let symbols = self.with(&params.text_document.uri, symbols::symbols);
        Ok(symbols.map(DocumentSymbolResponse::Nested))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        Ok(self.with(&params.text_document.uri, format).flatten())
    }
}

/// The whole-document edit that formats an IoT SQL document; nothing for JSON documents (as
/// `iotrules fmt` leaves them alone), for a statement with syntax errors, or when it is
/// already formatted.
pub fn format(document: &Document) -> Option<Vec<TextEdit>> {
    if document.kind() != Kind::Sql {
        return None;
    }
    let formatted = format_sql(document.text())?;
    if formatted == document.text() {
        return Some(Vec::new());
    }
    let end = document.position(document.text().len());
    Some(vec![TextEdit { range: Range::new(Position::new(0, 0), end), new_text: formatted }])
}
