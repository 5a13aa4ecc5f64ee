//! The crate's error type.

/// Everything that can go wrong in this crate. Every message says what the caller can do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A vector or query whose length is not the index's dimension.
    #[error(
        "vector has {actual} dimensions but the index expects {expected}; pass a vector of the column's dimension"
    )]
    Dimension {
        /// The dimension of the index or segment.
        expected: u32,
        /// The length of the vector that was passed.
        actual: usize,
    },
    /// A vector or query with a NaN or infinite component.
    #[error(
        "vector component {index} is NaN or infinite; only finite values can be indexed or searched"
    )]
    NonFinite {
        /// Position of the first non-finite component.
        index: usize,
    },
    /// The same key appeared twice in one segment build.
    #[error(
        "duplicate key in segment build; each key may appear at most once, deduplicate the rows first"
    )]
    DuplicateKey,
    /// Segments with different metrics were combined, or a segment's metric differs from the
    /// index's.
    #[error(
        "segment uses metric {actual} but the index uses {expected}; rebuild the segment with the index's metric"
    )]
    MetricMismatch {
        /// The index's metric name.
        expected: &'static str,
        /// The segment's metric name.
        actual: &'static str,
    },
    /// Encoded segment bytes failed a check (checksum, bounds, structure).
    #[error("corrupt vector segment: {0}; rebuild the index from the table's rows")]
    Corrupt(String),
    /// Encoded segment bytes use a format version this build cannot read.
    #[error(
        "vector segment format version {0} is not supported by this build (it reads version 1); upgrade HeliosDB or rebuild the index"
    )]
    UnsupportedFormat(u16),
    /// Graph construction failed (for example the thread pool could not be created).
    #[error("HNSW build failed: {0}")]
    Build(String),
    /// A parameter outside its allowed range (dimension 0, too many vectors, ...).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
