//! Secure access: pickup codes, keyed code hashes, signed QR tokens and the
//! tamper-evident audit chain. Pure functions; randomness and time come in as
//! arguments, so the simulator can pass its seeded streams and a real
//! controller the operating system's CSPRNG.

pub mod audit;
pub mod code;
pub mod keys;
pub mod pass;
pub mod qr;

pub use audit::{AuditChain, AuditEvent, AuditRecord, ChainBreak, QrRejection, Verified};
pub use code::PickupCode;
pub use keys::{AuditKey, CodeHash, LockerKeys};
pub use qr::{QrClaims, QrError};
