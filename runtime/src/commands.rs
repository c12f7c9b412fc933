//! One module per subcommand.

pub(crate) mod authorize;
pub(crate) mod bench;
pub(crate) mod broker;
pub(crate) mod check;
pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod fleet;
pub(crate) mod fmt;
pub(crate) mod install;
pub(crate) mod publish;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod shadow;
pub(crate) mod test;
pub(crate) mod watch;
