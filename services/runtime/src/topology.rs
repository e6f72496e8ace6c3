//! The mesh's topology in one table: which services exist, where each
//! listens by default, whom it calls (and by which flag), and which SQLite
//! file it keeps.
//!
//! ```text
//!                  gateway :8080 (HTTP)
//!        --user-url /   | --order-url  \ --inventory-url
//!   user :50051    order :50052 --inventory-url--> inventory :50053
//!   user.db        order.db  \                     inventory.db
//!                             --payment-url--> payment :8081 (HTTP)
//! ```
//!
//! Everything that needs to know the shape of the mesh reads it here: each
//! service's flag defaults (`--user-url` defaults to user's address), the
//! launcher that wires five processes together, `tracemesh service <name>`,
//! and the test that keeps `docker-compose.yml` in agreement. A port
//! changed here changes everywhere; before this table the same port was
//! written in five places and a typo meant a silent 502.
//!
//! Why a typed [`Service`] and not a string: `match` over it is checked for
//! every service, and a misspelt name is a compile error, not a lookup that
//! quietly finds nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// One service of the mesh. Its [`name`](Service::name) is also its
/// `service.name` in every span and its subcommand (`tracemesh service user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Gateway,
    User,
    Order,
    Inventory,
    Payment,
}

/// How a service is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 and JSON (axum); called with reqwest.
    Http,
    /// gRPC over HTTP/2 (tonic).
    Grpc,
}

/// One edge of the call graph: the caller learns the callee's URL from
/// `flag` (clap also reads it from `TRACEMESH_<CALLEE>_URL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callee {
    pub service: Service,
    /// The caller's command-line flag that holds the callee's URL.
    pub flag: &'static str,
}

impl Callee {
    const fn new(service: Service, flag: &'static str) -> Callee {
        Callee { service, flag }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    pub service: Service,
    pub protocol: Protocol,
    /// Where the service listens when nothing else is said (`tracemesh
    /// service <name>` on its own, the compose file's in-network port).
    pub default_addr: SocketAddr,
    /// The services it calls, in the order the caller's flags list them.
    pub callees: &'static [Callee],
    /// Its SQLite file inside `--data-dir`, if it keeps one.
    pub data_file: Option<&'static str>,
}

/// The port every service's admin endpoint listens on inside a container
/// (compose, Kubernetes); on one machine the launcher picks free ports.
pub const CONTAINER_ADMIN_PORT: u16 = 9000;

const fn local(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

const USER: Callee = Callee::new(Service::User, "--user-url");
const ORDER: Callee = Callee::new(Service::Order, "--order-url");
const INVENTORY: Callee = Callee::new(Service::Inventory, "--inventory-url");
const PAYMENT: Callee = Callee::new(Service::Payment, "--payment-url");

/// The mesh, in the order a launcher stops it: the edge first, so no new
/// request enters while the services behind it stop; callers before their
/// callees. Started in the reverse order, so every callee is listening
/// before its first caller starts.
pub const TOPOLOGY: [ServiceSpec; 5] = [
    ServiceSpec {
        service: Service::Gateway,
        protocol: Protocol::Http,
        default_addr: local(8080),
        callees: &[USER, ORDER, INVENTORY],
        data_file: None,
    },
    ServiceSpec {
        service: Service::Order,
        protocol: Protocol::Grpc,
        default_addr: local(50052),
        callees: &[INVENTORY, PAYMENT],
        data_file: Some("order.db"),
    },
    ServiceSpec {
        service: Service::User,
        protocol: Protocol::Grpc,
        default_addr: local(50051),
        callees: &[],
        data_file: Some("user.db"),
    },
    ServiceSpec {
        service: Service::Inventory,
        protocol: Protocol::Grpc,
        default_addr: local(50053),
        callees: &[],
        data_file: Some("inventory.db"),
    },
    ServiceSpec {
        service: Service::Payment,
        protocol: Protocol::Http,
        default_addr: local(8081),
        callees: &[],
        data_file: None,
    },
];

impl Service {
    /// Every service, in [`TOPOLOGY`]'s (stop) order.
    pub const ALL: [Service; 5] = [
        TOPOLOGY[0].service,
        TOPOLOGY[1].service,
        TOPOLOGY[2].service,
        TOPOLOGY[3].service,
        TOPOLOGY[4].service,
    ];

    /// The name: `service.name`, the subcommand, the compose service.
    pub const fn name(self) -> &'static str {
        match self {
            Service::Gateway => "gateway",
            Service::User => "user",
            Service::Order => "order",
            Service::Inventory => "inventory",
            Service::Payment => "payment",
        }
    }

    /// The service called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// This service's row of [`TOPOLOGY`]. A `const fn`, so a service
    /// crate can take its data file from the table at compile time.
    pub const fn spec(self) -> &'static ServiceSpec {
        // The row numbers are checked against the table by a test.
        let row = match self {
            Service::Gateway => 0,
            Service::Order => 1,
            Service::User => 2,
            Service::Inventory => 3,
            Service::Payment => 4,
        };
        &TOPOLOGY[row]
    }

    /// Its SQLite file, for a service that keeps one. Evaluated in a
    /// `const` by the service crates, so asking it of a service without one
    /// fails the build rather than a request.
    pub const fn data_file(self) -> &'static str {
        match self.spec().data_file {
            Some(file) => file,
            None => panic!("this service keeps no data file in TOPOLOGY"),
        }
    }

    /// Where it listens by default.
    pub fn default_addr(self) -> SocketAddr {
        self.spec().default_addr
    }

    /// `http://<default address>`: the default of every flag that points a
    /// caller at this service.
    pub fn default_url(self) -> String {
        format!("http://{}", self.default_addr())
    }

    /// The names of every service, comma-separated (for error messages).
    pub fn names() -> String {
        Service::ALL.map(Service::name).join(", ")
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Service {
    type Err = String;

    /// Parses a service name; the error lists the valid ones.
    fn from_str(name: &str) -> Result<Service, String> {
        Service::from_name(name).ok_or_else(|| {
            format!(
                "unknown service {name:?}; expected one of {}",
                Service::names()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_exactly_one_row_and_finds_it() {
        for service in Service::ALL {
            let rows = TOPOLOGY.iter().filter(|s| s.service == service).count();
            assert_eq!(rows, 1, "{service}");
            assert_eq!(service.spec().service, service);
        }
    }

    #[test]
    fn callers_stop_before_their_callees() {
        let position = |s: Service| Service::ALL.iter().position(|x| *x == s).unwrap();
        for spec in TOPOLOGY {
            for callee in spec.callees {
                assert!(
                    position(spec.service) < position(callee.service),
                    "{} calls {} but stops after it",
                    spec.service,
                    callee.service
                );
            }
        }
    }

    #[test]
    fn default_addresses_are_distinct() {
        let mut ports: Vec<u16> = TOPOLOGY.iter().map(|s| s.default_addr.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), TOPOLOGY.len());
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for service in Service::ALL {
            assert_eq!(service.name().parse::<Service>(), Ok(service));
        }
        let error = "shipping".parse::<Service>().unwrap_err();
        assert!(
            error.contains("gateway, order, user, inventory, payment"),
            "{error}"
        );
    }
}
