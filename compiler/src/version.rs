//! The SQL versions a rule can be created with (`awsIotSqlVersion`).

use std::fmt;
use std::str::FromStr;

/// An IoT SQL version. `beta` runs the newest semantics, which today are 2016-03-23's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SqlVersion {
    V2015_10_08,
    #[default]
    V2016_03_23,
    Beta,
}

impl SqlVersion {
    pub const ALL: [SqlVersion; 3] = [SqlVersion::V2015_10_08, SqlVersion::V2016_03_23, SqlVersion::Beta];

    pub const fn as_str(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// Whether the 2016-03-23 features (literals, nested queries, `encode`, ...) are available.
    pub const fn has_2016_features(self) -> bool {
        !matches!(self, SqlVersion::V2015_10_08)
    }
}

impl fmt::Display for SqlVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text named no SQL version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown SQL version `{0}`: expected 2015-10-08, 2016-03-23 or beta")]
pub struct UnknownSqlVersion(pub String);

impl FromStr for SqlVersion {
    type Err = UnknownSqlVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SqlVersion::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
            .ok_or_else(|| UnknownSqlVersion(text.to_owned()))
    }
}
