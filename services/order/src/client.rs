//! A client of the order service, for its callers (the gateway, tests).

use tracemesh_proto::order::v1::order_service_client::OrderServiceClient;
use tracemesh_runtime::grpc_client::{self, Deadlines, TracedChannel};

/// A lazily connecting, traced client of the order service at `url`
/// (`http://host:port`). Clone it per call: clones share the channel.
pub fn connect(
    url: &str,
    deadlines: Deadlines,
) -> Result<OrderServiceClient<TracedChannel>, tonic::transport::Error> {
    Ok(OrderServiceClient::new(grpc_client::connect(
        url, deadlines,
    )?))
}
