//! Ports for the services: the one asked for, or a free one, held until the
//! child that binds it is about to start.
//!
//! Free ports are found by binding port 0, and every reservation is held
//! until its child starts, so two of our own services can never be handed
//! the same port (the kernel may otherwise reuse a port just released).
//! Another program could still take a port in the instant between release
//! and the child's bind; the child then fails to start, naming it.

use std::net::{IpAddr, SocketAddr, TcpListener};

use crate::error::MeshError;

/// A port held until its child starts (dropping it releases the port).
#[derive(Debug)]
pub struct Reservation {
    pub addr: SocketAddr,
    _held: Option<TcpListener>,
}

/// `port` on `host` as it is, or, for port 0, a free port held open.
pub fn reserve(host: IpAddr, port: u16) -> Result<Reservation, MeshError> {
    if port != 0 {
        return Ok(Reservation {
            addr: SocketAddr::new(host, port),
            _held: None,
        });
    }
    let failed = |source| MeshError::NoFreePort { host, source };
    let listener = TcpListener::bind((host, 0)).map_err(failed)?;
    Ok(Reservation {
        addr: listener.local_addr().map_err(failed)?,
        _held: Some(listener),
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn held_free_ports_are_never_handed_out_twice() {
        let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let held: Vec<Reservation> = (0..10).map(|_| reserve(host, 0).unwrap()).collect();
        let mut ports: Vec<u16> = held.iter().map(|r| r.addr.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), held.len());
    }

    #[test]
    fn a_port_asked_for_is_taken_as_it_is() {
        let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(reserve(host, 8080).unwrap().addr.port(), 8080);
    }
}
