//! The gateway's connections to the mesh: the three traced gRPC clients the
//! handlers call ([`Clients`]), and the health probes behind `/readyz`
//! ([`Readiness`]).

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracemesh_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use tracemesh_proto::order::v1::order_service_client::OrderServiceClient;
use tracemesh_proto::user::v1::user_service_client::UserServiceClient;
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::grpc_client::{Deadlines, TracedChannel, connect};
use tracemesh_runtime::topology::Service;

/// Where the three gRPC services are (`http://host:port`).
#[derive(Debug, Clone)]
pub struct DownstreamUrls {
    pub user: String,
    pub order: String,
    pub inventory: String,
}

/// The generated clients, each on a traced channel with deadlines. A handler
/// clones the one it needs per call: a clone shares the channel.
#[derive(Debug, Clone)]
pub struct Clients {
    pub user: UserServiceClient<TracedChannel>,
    pub order: OrderServiceClient<TracedChannel>,
    pub inventory: InventoryServiceClient<TracedChannel>,
}

impl Clients {
    /// Channels connect lazily: nothing is dialled until the first call.
    /// Each knows its callee, for the telemetry faults in `faults`.
    pub fn connect(
        urls: &DownstreamUrls,
        deadlines: Deadlines,
        faults: &Faults,
    ) -> Result<Self, String> {
        let channel = |callee: Service, flag: &str, url: &str| {
            connect(faults.hop(callee), url, deadlines).map_err(|e| format!("{flag} {url:?}: {e}"))
        };
        Ok(Clients {
            user: UserServiceClient::new(channel(Service::User, "--user-url", &urls.user)?),
            order: OrderServiceClient::new(channel(Service::Order, "--order-url", &urls.order)?),
            inventory: InventoryServiceClient::new(channel(
                Service::Inventory,
                "--inventory-url",
                &urls.inventory,
            )?),
        })
    }
}

/// How long one readiness probe may take: an orchestrator polls `/readyz`
/// often and wants a quick answer, not the full downstream deadline.
pub const PROBE_DEADLINE: Duration = Duration::from_millis(500);

/// The `grpc.health.v1` probes of the three services.
///
/// Their channels are plain, untraced tonic channels on purpose: `/readyz`
/// itself is not traced (the runtime skips probe paths), so a traced probe
/// would start a new root trace every few seconds and bury the shop's traces.
#[derive(Debug, Clone)]
pub struct Readiness {
    probes: Vec<Probe>,
}

#[derive(Debug, Clone)]
struct Probe {
    /// What `/readyz` calls it: `user`, `order`, `inventory`.
    name: &'static str,
    /// The gRPC service whose health is asked for: the services register
    /// theirs with tonic-health, so SERVING means "that service is up",
    /// not merely "some gRPC server listens there".
    service: &'static str,
    client: HealthClient<Channel>,
}

impl Readiness {
    pub fn connect(urls: &DownstreamUrls) -> Result<Self, String> {
        use tracemesh_proto::inventory::v1::inventory_service_server;
        use tracemesh_proto::order::v1::order_service_server;
        use tracemesh_proto::user::v1::user_service_server;

        let probe = |name, service, flag: &str, url: &str| {
            let channel = Endpoint::from_shared(url.to_owned())
                .map_err(|e| format!("{flag} {url:?}: {e}"))?
                .connect_timeout(PROBE_DEADLINE)
                .timeout(PROBE_DEADLINE)
                .connect_lazy();
            Ok::<_, String>(Probe {
                name,
                service,
                client: HealthClient::new(channel),
            })
        };
        Ok(Readiness {
            probes: vec![
                probe(
                    "user",
                    user_service_server::SERVICE_NAME,
                    "--user-url",
                    &urls.user,
                )?,
                probe(
                    "order",
                    order_service_server::SERVICE_NAME,
                    "--order-url",
                    &urls.order,
                )?,
                probe(
                    "inventory",
                    inventory_service_server::SERVICE_NAME,
                    "--inventory-url",
                    &urls.inventory,
                )?,
            ],
        })
    }

    /// Probes every service at once and names those not serving, in the
    /// order user, order, inventory. Empty means ready.
    pub async fn unavailable(&self) -> Vec<&'static str> {
        let checks = self.probes.iter().map(|probe| async move {
            let request = HealthCheckRequest {
                service: probe.service.to_owned(),
            };
            let serving = match probe.client.clone().check(request).await {
                Ok(response) => response.into_inner().status() == ServingStatus::Serving,
                Err(status) => {
                    tracing::debug!(service = probe.name, %status, "readiness probe failed");
                    false
                }
            };
            (!serving).then_some(probe.name)
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
