//! Streaming checksums of the `x-amz-checksum-*` family.

use base64::Engine as _;
use sha1::Digest as _;

use super::error::ChecksumAlgorithm;

/// A running checksum.
#[derive(Clone)]
pub enum Checksum {
    /// CRC-32.
    Crc32(crc32fast::Hasher),
    /// CRC-32C.
    Crc32c(u32),
    /// CRC-64/NVME.
    Crc64Nvme(crc64fast_nvme::Digest),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checksum({})", self.algorithm().upper_name())
    }
}

impl Checksum {
    /// A new checksum of the given algorithm.
    pub fn new(alg: ChecksumAlgorithm) -> Self {
        match alg {
            ChecksumAlgorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Self::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => Self::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Self::Crc32(_) => ChecksumAlgorithm::Crc32,
            Self::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            Self::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            Self::Sha1(_) => ChecksumAlgorithm::Sha1,
            Self::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Self::Crc64Nvme(d) => d.write(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => sha2::Digest::update(h, data),
        }
    }

    /// The checksum, big-endian bytes.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Self::Crc32c(c) => c.to_be_bytes().to_vec(),
            Self::Crc64Nvme(d) => d.sum64().to_be_bytes().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
        }
    }

    /// The checksum as S3 writes it: base64 of the big-endian bytes.
    pub fn finish_base64(self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.finish())
    }
}

/// Decodes a base64 checksum value and checks its length for the algorithm.
pub fn decode_checksum(alg: ChecksumAlgorithm, value: &str) -> Option<Vec<u8>> {
    let v = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let len = match alg {
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
        ChecksumAlgorithm::Crc64Nvme => 8,
        ChecksumAlgorithm::Sha1 => 20,
        ChecksumAlgorithm::Sha256 => 32,
    };
    (v.len() == len).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(alg: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        let mut c = Checksum::new(alg);
        // split to exercise streaming
        let (a, b) = data.split_at(data.len() / 2);
        c.update(a);
        c.update(b);
        c.finish()
    }

    #[test]
    fn check_values_of_123456789() {
        use ChecksumAlgorithm::*;
        let d = b"123456789";
        assert_eq!(hex::encode(sum(Crc32, d)), "cbf43926");
        assert_eq!(hex::encode(sum(Crc32c, d)), "e3069283");
        assert_eq!(hex::encode(sum(Crc64Nvme, d)), "ae8b14860a799888");
        assert_eq!(
            hex::encode(sum(Sha1, d)),
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
        );
        assert_eq!(
            hex::encode(sum(Sha256, d)),
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"
        );
    }

    #[test]
    fn base64_values() {
        // "hello\n" has CRC32 NjowIA== (an S3 example).
        let mut c = Checksum::new(ChecksumAlgorithm::Crc32);
        c.update(b"hello\n");
        assert_eq!(c.finish_base64(), "NjowIA==");
        assert!(decode_checksum(ChecksumAlgorithm::Crc32, "NjowIA==").is_some());
        assert!(decode_checksum(ChecksumAlgorithm::Crc64Nvme, "NjowIA==").is_none());
    }
}
