//! A machine-readable reason on a gRPC status, beside its code.
//!
//! gRPC codes are coarse: FAILED_PRECONDITION covers both "out of stock" and
//! "card declined", which the gateway must answer differently (409 vs 402).
//! The callee puts a reason in the status metadata under [`REASON_KEY`];
//! the caller reads it back with [`reason`].

use tonic::metadata::{MetadataMap, MetadataValue};

/// The metadata key carrying the reason (`out_of_stock`, `card_declined`...).
pub const REASON_KEY: &str = "tracemesh-reason";

/// A status with `code`, a human `message`, and a machine `reason`.
pub fn status(
    code: tonic::Code,
    reason: &'static str,
    message: impl Into<String>,
) -> tonic::Status {
    let mut metadata = MetadataMap::new();
    metadata.insert(REASON_KEY, MetadataValue::from_static(reason));
    tonic::Status::with_metadata(code, message, metadata)
}

/// The reason attached by [`status`], if any.
pub fn reason(status: &tonic::Status) -> Option<&str> {
    status.metadata().get(REASON_KEY)?.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_survives_a_round_trip_through_http() {
        let s = status(
            tonic::Code::FailedPrecondition,
            "out_of_stock",
            "SKU-1 is short",
        );
        let response = s.into_http::<tonic::body::Body>();
        let back = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(back.code(), tonic::Code::FailedPrecondition);
        assert_eq!(reason(&back), Some("out_of_stock"));
    }
}
