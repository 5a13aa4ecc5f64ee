//! Keys that label the vectors of a segment, and their byte encoding.

use crate::error::{Error, Result};

/// A row key stored next to each vector of a segment.
///
/// `encode` appends a self-delimiting encoding; `decode` reads one key from the front of
/// `bytes` and advances it. `decode` must never panic and must not allocate more than the
/// remaining bytes justify.
pub trait Key: Clone + Eq + std::hash::Hash + Send + Sync + 'static {
    /// Appends this key's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one key from the front of `bytes`, advancing the slice past it.
    fn decode(bytes: &mut &[u8]) -> Result<Self>;
}

/// Takes `n` bytes from the front of `bytes`.
pub(crate) fn take<'a>(bytes: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8]> {
    if bytes.len() < n {
        return Err(Error::Corrupt(format!(
            "truncated {what}: need {n} bytes, {} left",
            bytes.len()
        )));
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Ok(head)
}

/// Reads a fixed-size little-endian array from the front of `bytes`.
pub(crate) fn take_array<const N: usize>(bytes: &mut &[u8], what: &str) -> Result<[u8; N]> {
    let head = take(bytes, N, what)?;
    let mut out = [0u8; N];
    out.copy_from_slice(head);
    Ok(out)
}

/// `u32` little-endian length, then the bytes.
impl Key for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        // Keys longer than 4 GiB cannot be stored in a row either; saturate rather than panic.
        let len = u32::try_from(self.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self[..len as usize]);
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self> {
        let len = u32::from_le_bytes(take_array::<4>(bytes, "key length")?) as usize;
        Ok(take(bytes, len, "key bytes")?.to_vec())
    }
}

/// Eight bytes, little-endian.
impl Key for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self> {
        Ok(u64::from_le_bytes(take_array::<8>(bytes, "u64 key")?))
    }
}

/// Eight bytes, little-endian two's complement.
impl Key for i64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self> {
        Ok(i64::from_le_bytes(take_array::<8>(bytes, "i64 key")?))
    }
}

/// Four bytes, little-endian.
impl Key for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self> {
        Ok(u32::from_le_bytes(take_array::<4>(bytes, "u32 key")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut out = Vec::new();
        vec![1u8, 2, 3].encode(&mut out);
        7u64.encode(&mut out);
        (-9i64).encode(&mut out);
        let mut s = out.as_slice();
        assert_eq!(Vec::<u8>::decode(&mut s).unwrap(), vec![1, 2, 3]);
        assert_eq!(u64::decode(&mut s).unwrap(), 7);
        assert_eq!(i64::decode(&mut s).unwrap(), -9);
        assert!(s.is_empty());
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1];
        assert!(matches!(
            Vec::<u8>::decode(&mut huge),
            Err(Error::Corrupt(_))
        ));
    }
}
