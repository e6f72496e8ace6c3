//! The one way callers (the gateway) build a user service client.

use tracemesh_proto::user::v1::user_service_client::UserServiceClient;
use tracemesh_runtime::grpc_client::{self, Deadlines, TracedChannel};

/// A lazily connecting, traced client for the user service at `url`
/// (`http://host:port`). Clone it per call: clones share one connection.
pub fn connect(
    url: &str,
    deadlines: Deadlines,
) -> Result<UserServiceClient<TracedChannel>, tonic::transport::Error> {
    Ok(UserServiceClient::new(grpc_client::connect(
        url, deadlines,
    )?))
}
