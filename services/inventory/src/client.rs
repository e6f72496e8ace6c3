//! The one way callers (the gateway, the order service) build an inventory
//! service client.

use tracemesh_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use tracemesh_runtime::grpc_client::{self, Deadlines, TracedChannel};

/// A lazily connecting, traced client for the inventory service at `url`
/// (`http://host:port`). Clone it per call: clones share one connection.
pub fn connect(
    url: &str,
    deadlines: Deadlines,
) -> Result<InventoryServiceClient<TracedChannel>, tonic::transport::Error> {
    Ok(InventoryServiceClient::new(grpc_client::connect(
        url, deadlines,
    )?))
}
