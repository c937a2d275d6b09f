//! The client side of KMS — what `vlmcs` and Windows do: build a request,
//! speak the RPC dance, and check every field of the answer. Used by
//! `kmsedge activate` and `bench`, by the tests, and by the decoder.
//!
//! Like the host, this is sans-IO: [`Session`] emits PDUs into buffers and
//! checks the PDUs it is given; the caller moves the bytes.
pub mod builder;
pub mod session;

pub use builder::RequestBuilder;
pub use session::{ClientError, Options, Session};

use crate::kms::{self, Expect, OpenedResponse};
use crate::HResult;

/// Opens and verifies a response message like a real client, including the
/// final count comparison (`0xC004F038` below the N policy).
pub fn check_response(msg: &[u8], expect: &Expect, n_policy: u32) -> Result<OpenedResponse, ClientError> {
    let opened = kms::open_response(msg, expect).map_err(ClientError::Open)?;
    opened.verify().map_err(ClientError::Verify)?;
    if opened.repr.current_count < n_policy {
        return Err(ClientError::Refused(HResult::NOT_ENOUGH_COUNT));
    }
    Ok(opened)
}
